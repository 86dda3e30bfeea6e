"""Chapter 15, fusion and folding: the residual add fused with the norm, norms folded
away for inference, and what the backward pass keeps."""
