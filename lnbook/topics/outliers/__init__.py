"""Chapter 14, outliers, vision and conditioning: one huge channel, images, adaptive LN."""
