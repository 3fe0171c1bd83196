"""Bjøntegaard delta rate and quality between two rate-distortion curves."""

import numpy as np

__all__ = ["bd_quality", "bd_rate"]


def _fit_and_integrate(x, y, low, high):
  """Mean of a cubic fit y(x) over [low, high] (lower degree for fewer points)."""
  degree = min(3, len(x) - 1)
  integral = np.polyint(np.polyfit(x, y, degree))
  return (np.polyval(integral, high) - np.polyval(integral, low)) / (high - low)


def _check(rate, quality, which):
  rate, quality = np.asarray(rate, float), np.asarray(quality, float)
  if rate.shape != quality.shape or len(rate) < 2:
    raise ValueError(f"{which} curve needs at least two (rate, quality) points")
  if (rate <= 0).any() or not np.isfinite(quality).all():
    raise ValueError(f"{which} curve has a non-positive rate or non-finite quality")
  return rate, quality


def _overlap(a, b, what):
  low, high = max(a.min(), b.min()), min(a.max(), b.max())
  if low >= high:
    raise ValueError(f"the curves do not overlap in {what}")
  return low, high


def bd_rate(anchor_rate, anchor_quality, test_rate, test_quality):
  """Average rate difference of `test` against `anchor` in percent at equal quality.

  Log-rate is fitted as a cubic in quality for each curve, and both fits are
  averaged over the quality range the curves share. Negative means `test` needs
  fewer bits.
  """
  anchor_rate, anchor_quality = _check(anchor_rate, anchor_quality, "anchor")
  test_rate, test_quality = _check(test_rate, test_quality, "test")
  low, high = _overlap(anchor_quality, test_quality, "quality")
  difference = (_fit_and_integrate(test_quality, np.log(test_rate), low, high)
                - _fit_and_integrate(anchor_quality, np.log(anchor_rate), low, high))
  return float((np.exp(difference) - 1.0) * 100.0)


def bd_quality(anchor_rate, anchor_quality, test_rate, test_quality):
  """Average quality difference (e.g. dB of PSNR) of `test` at equal rate."""
  anchor_rate, anchor_quality = _check(anchor_rate, anchor_quality, "anchor")
  test_rate, test_quality = _check(test_rate, test_quality, "test")
  log_anchor, log_test = np.log(anchor_rate), np.log(test_rate)
  low, high = _overlap(log_anchor, log_test, "rate")
  return float(_fit_and_integrate(log_test, test_quality, low, high)
               - _fit_and_integrate(log_anchor, anchor_quality, low, high))
