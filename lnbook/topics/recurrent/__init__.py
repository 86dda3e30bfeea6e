"""Chapter 11: layer norm in recurrent networks, where it was born."""
