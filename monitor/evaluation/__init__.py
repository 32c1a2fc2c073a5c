"""Rule evaluation as a role of the replica: who evaluates, and the evaluator itself.

* :mod:`~monitor.evaluation.election` — the evaluator election (a consumer group on a
  one-partition coordination topic), ``coordination:`` in driftline.yaml;
* :mod:`~monitor.evaluation.role` — the evaluator role: rule engine → alerting, run by the
  elected replica only (the rule engine itself is :mod:`monitor.rules.engine`);
* :mod:`~monitor.evaluation.deleted_rules` — resolving the alerts of rules a reload deleted;
* :mod:`~monitor.evaluation.settings` — ``coordination:`` settings.

Nothing is re-exported here, so importing the settings (as :mod:`monitor.config` does)
loads no Kafka client and no rule engine.
"""
