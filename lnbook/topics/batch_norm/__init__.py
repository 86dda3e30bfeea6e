"""Chapter 4, layer norm against batch norm.

Which statistics each normalization shares, and what the batch does to batch norm.
"""
