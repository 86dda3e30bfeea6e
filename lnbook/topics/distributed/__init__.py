"""Chapter 16, layer norm split across devices: tensor and sequence parallelism."""
