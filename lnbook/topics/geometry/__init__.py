"""Chapter 9, the geometry of layer norm.

Centring as a projection, the sphere of radius sqrt(D), the Jacobian's null space, what
attention sees after a norm, gamma = 1 + w, and scale invariance with the effective learning
rate.
"""
