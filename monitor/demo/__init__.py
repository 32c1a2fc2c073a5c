"""``driftline demo``: a synthetic model stream, the real daemon, a local receiver."""
