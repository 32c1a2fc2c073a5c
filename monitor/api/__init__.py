"""The daemon's HTTP API: health, metrics, models, alerts, results, silences, reports.

Entry points: :class:`monitor.api.server.ApiServer` (the daemon starts it),
:func:`monitor.api.app.create_app` (tests), :class:`monitor.api.context.ApiContext`.
"""
