"""Chapter 6, covariate shift and smoothness.

Two explanations of why normalization helps training, each measured on a small network.
"""
