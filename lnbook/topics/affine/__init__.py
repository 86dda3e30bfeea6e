"""Chapter 2, gamma and beta.

The learned scale and shift after layer norm, what they can restore, and weight decay on them.
"""
