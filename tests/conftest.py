"""Shared test settings."""

from hypothesis import settings

# Property tests compare with torch; their speed varies with the shapes drawn, so no deadline.
settings.register_profile("lnbook", deadline=None, derandomize=False)
settings.load_profile("lnbook")
