"""Benchmarks and maintenance tools, each run as python -m compressor.tools.NAME."""
