"""Chapter 9, the geometry of layer norm.

Centring as a projection, the sphere of radius sqrt(D), the Jacobian's null space, what
attention sees after a norm, and gamma = 1 + w.
"""
