"""Chapter 9's live controls (geometry): ipywidgets wired to the figure builders."""

from __future__ import annotations

from ... import live
from . import experiments, figures

# --- Sections 1-3: projection, sphere, Jacobian, attention, gamma = 1 + w -----------------


# --- Section 4: scale invariance and the effective learning rate -------------------------
