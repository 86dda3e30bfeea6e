"""Chapter 8, speed and accuracy.

How accurately each float32 layer norm computes on data with a large common offset.
"""
