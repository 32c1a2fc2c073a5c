"""Binned divergences (placeholder, implemented next)."""
def psi(profile, current):
    raise NotImplementedError
def jensenshannon(profile, current):
    raise NotImplementedError
def kl_div(profile, current):
    raise NotImplementedError
def hellinger(profile, current):
    raise NotImplementedError
