"""Checkers of chapter 9's exercises (geometry)."""

from __future__ import annotations

from ...checking import CORRECT, Verdict, checker

# --- Sections 1-3: projection, sphere, Jacobian, attention, gamma = 1 + w -----------------


# --- Section 4: scale invariance and the effective learning rate -------------------------
