"""Sub-commands of the ``driftline`` CLI, one module per group (see monitor/cli.py)."""
