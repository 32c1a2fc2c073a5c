"""``Alerting``: alerts from the rule engine in, notifications out, through the outbox.

Two entry points, both with an explicit clock so tests drive them step by step:

* ``process(alerts, now)`` — routing, silences, inhibition, grouping and retraining
  triggers; every resulting notification is written to the outbox *before* anything is
  sent;
* ``deliver_due(now)`` — flushes groups whose wait is over, then sends what is due.

``start()`` runs ``deliver_due`` in a daemon thread for the daemon; ``process`` is called
by the rule engine after each evaluation.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import threading
import time
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone

from monitor.alerting import payloads, triggers
from monitor.alerting.grouping import Dispatcher, Flush
from monitor.alerting.inhibition import Inhibitor
from monitor.alerting.notifiers import Notification, Notifier, build_notifier
from monitor.alerting.outbox import NotificationLog, Outbox
from monitor.alerting.routing import build_route, destinations
from monitor.alerting.sender import DeliveryReport, Sender
from monitor.alerting.settings import AlertingSettings
from monitor.alerting.silences import SilenceStore
from monitor.records import Alert
from monitor.store.interface import Store

log = logging.getLogger(__name__)

META = "meta"  # notification kind of meta-alerts about Driftline itself
META_ALERTNAME = "DriftlineBlind"


def _ts(now: datetime | float) -> float:
    return now if isinstance(now, int | float) else now.timestamp()


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=timezone.utc)


def _encode(payload: dict) -> bytes:
    # Canonical bytes: the stored body is exactly what is signed and sent on every attempt.
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()


def notification_id(f: Flush) -> str:
    """The idempotency key of one group notification: the group, what it reports (firing
    and resolved fingerprints) and which notification it follows (the previous send time
    in the notification log), never the flush time. A crash between the outbox write and
    the notification-log write replays the same state change after the restart, which
    gets the same id, so the outbox keeps one row and the receiver sees one key."""
    text = json.dumps(
        [
            f.dest.group_key,
            [a.fingerprint for a in f.firing],
            [a.fingerprint for a in f.resolved],
            f.previous_sent_at,
        ]
    )
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class Alerting:
    """The alerting part, over one store.

    Parameters
    ----------
    settings : AlertingSettings
        The ``alerting:`` section.
    store : Store
        Migrated store holding the outbox, attempts, silences and cooldowns.
    notifiers : mapping, optional
        Receiver name → notifier; built from ``settings.receivers`` when omitted.
    rng : random.Random, optional
        Jitter source (seed it in tests).
    kinds : tuple of str, optional
        Deliver only notifications of these kinds (``("meta",)`` on a replica that is not
        the evaluator); None delivers every kind.
    """

    def __init__(
        self,
        settings: AlertingSettings,
        store: Store,
        notifiers: Mapping[str, Notifier] | None = None,
        rng: random.Random | None = None,
        kinds: tuple[str, ...] | None = None,
    ):
        self.settings = settings
        self.outbox = Outbox(store)
        self.silences = SilenceStore(store)
        self._nflog = NotificationLog(store)
        self._cooldowns = triggers.Cooldowns(store)
        self._root = build_route(settings.route)
        self._inhibitor = Inhibitor(settings.inhibit_rules)
        self._dispatcher = Dispatcher(self._nflog.load())
        if notifiers is None:
            notifiers = {
                r.name: build_notifier(r, generator_url=settings.dashboard_url)
                for r in settings.receivers
            }
        self._notifiers = dict(notifiers)
        self._sender = Sender(self.outbox, self._notifiers, settings.delivery, rng, kinds)
        # process() runs on the engine's thread, deliver_due() on the sender's.
        self._lock = threading.RLock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def reload(self, settings: AlertingSettings) -> None:
        """Take a new ``alerting:`` section (SIGHUP, API reload): routing tree, inhibit
        rules, receivers and triggers. Groups already collecting keep their alerts; a
        receiver that is gone gets its notifier closed (its outbox entries then fail as
        "receiver not configured")."""
        root = build_route(settings.route)
        inhibitor = Inhibitor(settings.inhibit_rules)
        with self._lock:
            old = {r.name: r for r in self.settings.receivers}
            for r in settings.receivers:
                if r.name not in self._notifiers or old.get(r.name) != r:
                    previous = self._notifiers.get(r.name)
                    self._notifiers[r.name] = build_notifier(
                        r, generator_url=settings.dashboard_url
                    )
                    if previous is not None:
                        previous.close()
            wanted = {r.name for r in settings.receivers}
            for name in [n for n in self._notifiers if n not in wanted and n in old]:
                self._notifiers.pop(name).close()
            self.settings, self._root, self._inhibitor = settings, root, inhibitor
        log.info(
            "alerting reloaded: %d receiver(s), %d inhibit rule(s)",
            len(settings.receivers),
            len(settings.inhibit_rules),
        )

    # -- alerts in -----------------------------------------------------------------------

    def process(self, alerts: Iterable[Alert], now: datetime | float) -> list[Notification]:
        """Take one evaluation's alerts; write the notifications now due to the outbox.

        Pending alerts are ignored (as Alertmanager never sees them). Firing alerts join
        their groups (flushed after ``group_wait``); resolved alerts produce a resolved
        notification when their firing was notified. Retraining triggers are written at
        once, unless muted or in their model's cooldown.

        Returns
        -------
        list of Notification
            What was written to the outbox by this call.
        """
        t = _ts(now)
        alerts = [a for a in alerts if a.state in ("firing", "resolved")]
        with self._lock:
            for alert in alerts:
                self._dispatcher.add(
                    alert, destinations(self._root, alert.labels, alert.receivers), t
                )
            muted = self._muted(t, extra=[a for a in alerts if a.state == "firing"])
            written = self._write_triggers([a for a in alerts if not muted(a)], t)
            written += self._flush(t, muted)
        if written:
            self._wake.set()
        return written

    def _muted(self, now: float, extra: Iterable[Alert] = ()):
        silences = self.silences.active(now)
        firing = {a.fingerprint: a for a in self._dispatcher.firing_alerts()}
        for a in extra:
            firing.setdefault(a.fingerprint, a)
        inhibited = self._inhibitor.inhibited(firing.values())

        def muted(alert: Alert) -> bool:
            if alert.fingerprint in inhibited:
                return True
            return any(s.mutes(alert.labels, now) for s in silences)

        return muted

    def _write_triggers(self, alerts: list[Alert], now: float) -> list[Notification]:
        planned = triggers.plan(alerts, self.settings.triggers, self._cooldowns, now)
        written: list[Notification] = []
        for trig in planned:
            names = list(self.settings.triggers.receivers) or sorted(
                {r for a in trig.alerts for r in a.receivers}
            )
            if not names:
                log.warning("model %s: retraining trigger has no receiver", trig.model)
                continue
            payload = payloads.retrain_trigger(
                trigger_id=trig.trigger_id,
                model=trig.model,
                model_version=trig.model_version,
                alerts=trig.alerts,
                now=_dt(now),
                dashboard_url=self.settings.dashboard_url,
            )
            body = _encode(payload)
            batch = [
                Notification(f"{trig.trigger_id}:{name}", name, "trigger", trig.model, body, now)
                for name in names
            ]
            # Outbox first, cooldown second: a crash in between rebuilds the same trigger
            # id, which the outbox collapses (see monitor/alerting/triggers.py).
            self.outbox.enqueue(batch)
            self._cooldowns.record(trig.model, trig.trigger_id, now)
            log.info("model %s: retraining trigger %s -> %s", trig.model, trig.trigger_id, names)
            written += batch
        return written

    # -- groups → outbox -----------------------------------------------------------------

    def flush(self, now: datetime | float) -> list[Notification]:
        """Write the notifications of every group whose wait is over at ``now``."""
        t = _ts(now)
        with self._lock:
            return self._flush(t, self._muted(t))

    def _flush(self, now: float, muted) -> list[Notification]:
        flushes = self._dispatcher.flush(now, muted, send_resolved=self.settings.send_resolved)
        batch = [self._notification(f) for f in flushes]
        self.outbox.enqueue(batch)
        for f in flushes:
            self._nflog.record(
                f.dest.group_key, f.dest.receiver, [a.fingerprint for a in f.firing], now
            )
        return batch

    def _notification(self, f: Flush) -> Notification:
        key = f.dest.group_key
        nid = notification_id(f)
        payload = payloads.alert_notification(
            notification_id=nid,
            receiver=f.dest.receiver,
            group_key=key,
            group_labels=f.dest.group_labels,
            firing=f.firing,
            resolved=f.resolved,
            now=_dt(f.at),
            dashboard_url=self.settings.dashboard_url,
        )
        # A group holding only meta-alerts ("Driftline is blind") is its own kind, so a
        # replica that is not the evaluator can deliver those and nothing else.
        alerts = f.firing + f.resolved
        meta = bool(alerts) and all(a.labels.get("alertname") == META_ALERTNAME for a in alerts)
        kind = META if meta else "alerts"
        return Notification(nid, f.dest.receiver, kind, key, _encode(payload), f.at)

    # -- outbox → receivers --------------------------------------------------------------

    def deliver_due(self, now: datetime | float) -> DeliveryReport:
        """Flush due groups, then attempt every notification due at ``now``."""
        t = _ts(now)
        self.flush(t)
        return self._sender.deliver_due(t)

    def start(self, poll_interval: float | None = None) -> threading.Thread:
        """Run ``deliver_due(time.time())`` in a daemon thread until ``stop()``."""
        interval = poll_interval or self.settings.delivery.poll_interval

        def loop() -> None:
            while not self._stop.is_set():
                try:
                    self.deliver_due(time.time())
                except Exception:  # the store may be down for a while; keep the loop alive
                    log.exception("alerting sender loop: delivery round failed")
                self._wake.wait(interval)
                self._wake.clear()

        self._stop.clear()
        self._thread = threading.Thread(target=loop, name="driftline-alerting", daemon=True)
        self._thread.start()
        return self._thread

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the sender thread (pending notifications stay in the outbox)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def close(self) -> None:
        """Stop the thread and close every notifier."""
        self.stop()
        for n in self._notifiers.values():
            n.close()
