"""Caps on how many models, and features per model, messages may create.

Model and feature names come from untrusted messages, and each new one costs for as
long as Driftline runs: rows in ``model_features``, series in ``/metrics`` (counters are
labelled by model), entries in the API's model list, work for every ``model: "*"`` rule.
A producer bug (a request id in the model field, a feature named after a user) must not
grow those without bound. So a message that would create a model beyond
``source.limits.max_models``, or a feature of one model beyond
``source.limits.max_features_per_model``, is dead-lettered with ``too_many_models`` or
``too_many_model_features`` and everything already known keeps flowing.

What is known survives restarts: the ingest loop hands the caps what the store has
recorded (:meth:`CardinalityCaps.know`, from ``model_features``), at start and then now
and then, so a restart does not admit a fresh ``max_models`` and replicas sharing one
store converge on one count. A model counts once it has an event or label admitted here
or features recorded in the store (a model whose events are never sampled has no
recorded features, so after a restart it is admitted again, as a new one, if room is
left).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from monitor.source.reasons import Reject

log = logging.getLogger(__name__)


class CardinalityCaps:
    """Admits models and feature names up to the configured caps.

    Parameters
    ----------
    max_models : int
        Distinct models messages may create (known ones included).
    max_features_per_model : int
        Distinct feature names one model's messages may create (known ones included).

    Examples
    --------
    >>> caps = CardinalityCaps(max_models=1, max_features_per_model=2)
    >>> caps.admit("fraud", {"amount": 1.0, "country": "DE"})
    >>> caps.admit("churn", {})
    Traceback (most recent call last):
    ...
    monitor.source.reasons.Reject: too_many_models: model 'churn' is new and \
source.limits.max_models (1) models are known already
    """

    def __init__(self, max_models: int, max_features_per_model: int):
        self.max_models = max_models
        self.max_features_per_model = max_features_per_model
        self._features: dict[str, set[str]] = {}  # model -> its known feature names

    @property
    def models(self) -> int:
        """How many models are known."""
        return len(self._features)

    def know(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Count ``(model, feature)`` pairs recorded elsewhere (the store) as known.

        Known pairs are never refused, even beyond the caps (the store already holds
        them, for instance after a cap was lowered); they leave less room for new ones.
        """
        features = self._features
        for model, feature in pairs:
            names = features.get(model)
            if names is None:
                names = features[model] = set()
            names.add(feature)

    def admit(self, model: str, names: Iterable[str] = ()) -> None:
        """Admit ``model`` and its feature ``names``, or refuse the message.

        Raises
        ------
        Reject
            ``too_many_models`` or ``too_many_model_features``: the message would create
            a model or a feature beyond its cap. Nothing of it is admitted then.
        """
        known = self._features.get(model)
        if known is None:
            if len(self._features) >= self.max_models:
                raise Reject(
                    "too_many_models",
                    f"model {model[:64]!r} is new and source.limits.max_models "
                    f"({self.max_models}) models are known already",
                )
            known = set()
            self._check_features(model, known, names)
            self._features[model] = known
            known.update(names)
            if len(self._features) == self.max_models:
                log.warning(
                    "%d models known: source.limits.max_models reached, messages of new "
                    "models are dead-lettered from now on",
                    self.max_models,
                )
            return
        if known.issuperset(names):  # the usual message: nothing new
            return
        self._check_features(model, known, names)
        known.update(names)

    def _check_features(self, model: str, known: set[str], names: Iterable[str]) -> None:
        cap = self.max_features_per_model
        new = [name for name in names if name not in known]
        if len(known) + len(new) > cap:
            raise Reject(
                "too_many_model_features",
                f"model {model[:64]!r} has {len(known)} features and this message adds "
                f"{len(new)} (e.g. {new[0][:64]!r}); source.limits.max_features_per_model "
                f"is {cap}",
            )
