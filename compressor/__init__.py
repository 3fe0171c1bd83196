"""compressor: a learned image codec (Ballé et al. 2017) with real bitstreams."""
__version__ = "0.1.0"
