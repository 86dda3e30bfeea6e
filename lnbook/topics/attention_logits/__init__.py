"""Chapter 13: attention logits, QK-norm, nGPT and what models use."""
