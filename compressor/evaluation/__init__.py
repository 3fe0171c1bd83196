"""Rate-distortion evaluation: metrics, classical codecs, BD-rate and plots."""
