"""Chapter 5, layer norm in transformers.

Padding, generation one token at a time, pre- and post-norm, and learning-rate warm-up.
"""
