"""Chapter 7, RMSNorm and beyond.

Re-centering, other norms, eps, the S-shaped map of a trained layer norm, and pitfalls.
"""
