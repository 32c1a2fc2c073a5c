"""Alerting: routing, silences, inhibition, grouping, the durable outbox and notifiers.

Alerts (``monitor.records.Alert``) come in from the rule engine through
:meth:`Alerting.process`; notifications leave through :meth:`Alerting.deliver_due`.
"""

from monitor.alerting.service import Alerting
from monitor.alerting.settings import AlertingSettings

__all__ = ["Alerting", "AlertingSettings"]
