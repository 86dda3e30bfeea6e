"""Chapter 10, scale invariance and the effective learning rate.

Weights that feed a norm: their scale invariance, the effective learning rate eta / |W|^2 of
SGD on them, and the equilibrium weight decay brings it to.
"""
