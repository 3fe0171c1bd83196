"""Training: the input pipeline, the training loop and its distribution."""
