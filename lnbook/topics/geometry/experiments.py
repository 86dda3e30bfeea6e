"""Chapter 9's experiments (geometry): pure functions that compute what the chapter shows.

Sections 1-3 (projection, sphere, Jacobian, attention, gamma = 1 + w) come first; section 4
(scale invariance and the effective learning rate) comes after them.
"""

from __future__ import annotations

import numpy as np

# --- Sections 1-3: projection, sphere, Jacobian, attention, gamma = 1 + w -----------------


# --- Section 4: scale invariance and the effective learning rate -------------------------
