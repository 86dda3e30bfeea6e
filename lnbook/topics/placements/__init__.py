"""Chapter 12, where the norm goes in a transformer, 2017-2025.

Post-norm, pre-norm and what came after them: sandwich (Peri-LN), the norm on the
sublayer's output (OLMo 2), DeepNorm, Admin, Mix-LN, and the final norm of pre-norm stacks.
"""
