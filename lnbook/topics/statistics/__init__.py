"""Chapter 1, per-example statistics.

What layer norm computes for each example, and what it is blind to (shift, scale, the batch).
"""
