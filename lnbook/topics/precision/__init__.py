"""Chapter 15: layer norm statistics in reduced precision (float16, bfloat16)."""
