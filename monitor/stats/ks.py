"""Kolmogorov-Smirnov two-sample test (placeholder, implemented next)."""
def ks(profile, current):
    raise NotImplementedError
