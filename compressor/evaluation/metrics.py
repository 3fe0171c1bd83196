"""Distortion measures on 8-bit images."""

import numpy as np
import tensorflow as tf

__all__ = ["mse", "ms_ssim", "ms_ssim_db", "psnr", "psnr_from_mse"]


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


# Wang, Simoncelli & Bovik (2003): the five scale weights.
_MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
_SSIM_WINDOW = 11


def ms_ssim(a, b):
  """MS-SSIM of two 8-bit images (tf.image.ssim_multiscale, max_val 255).

  Images too small for five scales (the 11-pixel window must fit the coarsest
  one) use as many scales as fit, with the first weights.
  """
  if a.shape != b.shape:
    raise ValueError(f"images differ in shape: {a.shape} vs {b.shape}")
  smallest = min(a.shape[:2])
  scales = 1
  while scales < len(_MS_SSIM_WEIGHTS) and smallest >> scales >= _SSIM_WINDOW:
    scales += 1
  if smallest < _SSIM_WINDOW:
    raise ValueError(f"MS-SSIM needs images of at least {_SSIM_WINDOW} pixels a side")
  value = tf.image.ssim_multiscale(
      tf.constant(a[None], tf.float32), tf.constant(b[None], tf.float32), 255.0,
      power_factors=_MS_SSIM_WEIGHTS[:scales], filter_size=_SSIM_WINDOW)
  return float(value[0])


def ms_ssim_db(value):
  """MS-SSIM on a decibel scale, -10 log10(1 - MS-SSIM); infinite at 1."""
  return float("inf") if value >= 1 else float(-10.0 * np.log10(1.0 - value))
