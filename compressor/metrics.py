"""Distortion measures on 8-bit images."""

import numpy as np

__all__ = ["mse", "psnr", "psnr_from_mse"]


def mse(a, b):
  """Mean squared error over all pixels and channels, on the 0-255 scale."""
  if a.shape != b.shape:
    raise ValueError(f"images differ in shape: {a.shape} vs {b.shape}")
  return float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))


def psnr_from_mse(error, peak=255.0):
  """PSNR in dB of a mean squared error; infinite for zero error."""
  return float("inf") if error == 0 else float(10.0 * np.log10(peak ** 2 / error))


def psnr(a, b, peak=255.0):
  """Peak signal-to-noise ratio in dB of two images; infinite when identical."""
  return psnr_from_mse(mse(a, b), peak)
