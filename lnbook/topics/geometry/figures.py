"""Chapter 9's figure builders (geometry): plotly figures that work with no kernel."""

from __future__ import annotations

import plotly.graph_objects as go

from ... import plotting

# --- Sections 1-3: projection, sphere, Jacobian, attention, gamma = 1 + w -----------------


# --- Section 4: scale invariance and the effective learning rate -------------------------
