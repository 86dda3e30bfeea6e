"""Shared test settings."""

from hypothesis import settings

# Property tests compare with torch; their speed varies with the shapes drawn, so no deadline.
# derandomize: every run (and CI) draws the same examples, so a failure is reproducible.
settings.register_profile("lnbook", deadline=None, derandomize=True)
settings.load_profile("lnbook")
