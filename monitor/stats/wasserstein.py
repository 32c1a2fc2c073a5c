"""Wasserstein and energy distance (placeholder, implemented next)."""
def wasserstein(profile, current):
    raise NotImplementedError
def energy_distance(profile, current):
    raise NotImplementedError
