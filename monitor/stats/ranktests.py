"""Anderson-Darling and Cramer-von Mises (placeholder, implemented next)."""
def anderson_darling(profile, current):
    raise NotImplementedError
def cramer_von_mises(profile, current):
    raise NotImplementedError
