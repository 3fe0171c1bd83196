"""The networks: transforms, normalization layers, tiling and the codec models."""
