"""Chapter 3, layer norm from scratch.

The forward and backward passes written out, and the one-pass variance's pitfall.
"""
