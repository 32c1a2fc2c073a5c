"""Settings of the alerting part: the ``alerting:`` section of driftline.yaml.

The shape follows Alertmanager's configuration (receivers, a routing tree with
``group_by``/``group_wait``/``group_interval``/``repeat_interval``, inhibit rules) so that
people who run Alertmanager read it without a manual. Secrets are never values here:
``secret_env`` names the environment variable that holds a receiver's HMAC key.
"""

from __future__ import annotations

import logging
import re
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from monitor.alerting.matchers import Matcher, parse_matcher
from monitor.secrets import read_secret
from monitor.source.security import KafkaSecurity

log = logging.getLogger(__name__)

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")


def parse_duration(value: object) -> float:
    """Read a Prometheus-style duration (``30s``, ``5m``, ``1h30m``) or a number of seconds.

    Returns
    -------
    float
        Seconds.
    """
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or a string such as 5m")
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str):
        raise ValueError("a duration is a number of seconds or a string such as 5m")
    text = value.strip()
    pos, total = 0, 0.0
    for m in _DURATION.finditer(text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(text) or not text:
        raise ValueError(f"cannot parse duration {value!r}; use e.g. 30s, 5m, 1h30m, 2d")
    return total


# Finite: ".inf" or "1e400s" would otherwise pass and overflow later, far from the file.
Duration = Annotated[float, BeforeValidator(parse_duration), Field(ge=0, allow_inf_nan=False)]


def _parse_matchers(value: object) -> list[Matcher]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError('matchers are a list of strings such as severity="critical"')
    out = []
    for item in value:
        if isinstance(item, Matcher):
            out.append(item)
        elif isinstance(item, str):
            out.append(parse_matcher(item))
        else:
            raise ValueError('each matcher is a string such as severity="critical"')
    return out


Matchers = Annotated[list[Matcher], BeforeValidator(_parse_matchers)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)


class _ReceiverBase(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.\-]+$")
    # The HMAC key comes from this environment variable; the key itself is never in YAML.
    secret_env: str | None = None

    def secret(self) -> SecretStr | None:
        """The signing key from ``secret_env``, or None when the receiver is unsigned.

        Raises
        ------
        ValueError
            When ``secret_env`` is set but the variable is not; the message names the
            variable, never a value.
        """
        try:
            return read_secret(self.secret_env, None, "secret_env")
        except ValueError as exc:
            raise ValueError(f"receiver {self.name}: {exc}") from None


class _HttpReceiver(_ReceiverBase):
    """What every receiver that POSTs over HTTP(S) is configured with."""

    url: str = Field(pattern=r"^https?://")
    headers: dict[str, str] = Field(default_factory=dict)
    timeout: Duration = 10.0
    # TLS verification stays on unless turned off for this one receiver, on purpose.
    tls_verify: bool = True


class WebhookReceiver(_HttpReceiver):
    """POST the versioned JSON payload to ``url``, signed when ``secret_env`` is set."""

    type: Literal["webhook"] = "webhook"


class KafkaReceiver(_ReceiverBase, KafkaSecurity):
    """Produce the payload to a Kafka topic (the training pipeline consumes it).

    TLS and SASL as for ``source.kafka`` (``security_protocol``, ``ssl_*``, ``sasl_*``).
    """

    type: Literal["kafka"] = "kafka"
    bootstrap_servers: list[str] = Field(min_length=1)
    topic: str = Field(pattern=r"^[A-Za-z0-9._\-]+$")
    timeout: Duration = 10.0
    client_id: str = "driftline-alerting"


class AlertmanagerReceiver(_HttpReceiver):
    """POST alerts to an Alertmanager's v2 API (``/api/v2/alerts``)."""

    type: Literal["alertmanager"] = "alertmanager"


Receiver = Annotated[
    WebhookReceiver | KafkaReceiver | AlertmanagerReceiver, Field(discriminator="type")
]


class RouteSettings(_Strict):
    """A node of the routing tree; unset timings and ``group_by`` inherit from the parent."""

    receiver: str | None = None
    matchers: Matchers = Field(default_factory=list)
    group_by: list[str] | None = None
    group_wait: Duration | None = None
    group_interval: Duration | None = None
    repeat_interval: Duration | None = None
    continue_: bool = Field(False, alias="continue")
    routes: list[RouteSettings] = Field(default_factory=list)

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True, populate_by_name=True)


class InhibitRule(_Strict):
    """A firing alert matching ``source_matchers`` mutes alerts matching
    ``target_matchers`` that have the same values for the ``equal`` labels."""

    source_matchers: Matchers = Field(min_length=1)
    target_matchers: Matchers = Field(min_length=1)
    equal: list[str] = Field(default_factory=list)


class DeliverySettings(_Strict):
    """How the sender retries: exponential backoff with jitter up to ``max_age``."""

    initial_backoff: Duration = 1.0
    max_backoff: Duration = 300.0
    multiplier: float = Field(2.0, ge=1.0)
    max_age: Duration = 86400.0
    poll_interval: Duration = 1.0
    batch_size: int = Field(100, ge=1)


class TriggerSettings(_Strict):
    """Retraining triggers: where they go and how often one model may be retrained."""

    receivers: list[str] = Field(default_factory=list)
    cooldown: Duration = 21600.0
    # Labels that name the model and its version on an alert.
    model_label: str = "model"
    version_label: str = "model_version"


class AlertingSettings(_Strict):
    """The ``alerting:`` section of driftline.yaml."""

    receivers: list[Receiver] = Field(default_factory=list)
    route: RouteSettings | None = None
    inhibit_rules: list[InhibitRule] = Field(default_factory=list)
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)
    triggers: TriggerSettings = Field(default_factory=TriggerSettings)
    # Base URL of the dashboard; links in payloads point there.
    dashboard_url: str | None = None
    send_resolved: bool = True

    @field_validator("receivers")
    @classmethod
    def _unique_names(cls, receivers: list) -> list:
        seen: set[str] = set()
        for r in receivers:
            if r.name in seen:
                raise ValueError(f"receiver {r.name!r} is defined twice")
            seen.add(r.name)
        return receivers

    @model_validator(mode="after")
    def _known_receivers(self) -> AlertingSettings:
        names = {r.name for r in self.receivers}
        valid = ", ".join(sorted(names)) or "(none defined)"

        def check(route: RouteSettings, where: str) -> None:
            if route.receiver is not None and route.receiver not in names:
                raise ValueError(f"{where}: unknown receiver {route.receiver!r}; valid: {valid}")
            for i, child in enumerate(route.routes):
                check(child, f"{where}.routes[{i}]")

        if self.route is not None:
            if self.route.receiver is None:
                raise ValueError("route: the root route needs a receiver")
            check(self.route, "route")
        for name in self.triggers.receivers:
            if name not in names:
                raise ValueError(f"triggers: unknown receiver {name!r}; valid: {valid}")
        return self

    def receiver(self, name: str) -> WebhookReceiver | KafkaReceiver | AlertmanagerReceiver:
        """The receiver called ``name`` (KeyError when there is none)."""
        for r in self.receivers:
            if r.name == name:
                return r
        raise KeyError(name)
