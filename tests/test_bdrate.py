"""Bjøntegaard deltas on curves with known answers."""

import numpy as np
import pytest

from compressor.evaluation.bdrate import bd_quality, bd_rate

RATE = np.array([0.1, 0.25, 0.5, 1.0, 1.8])
PSNR = 30 + 4 * np.log2(RATE / 0.1) ** 0.9


@pytest.mark.parametrize("factor", [0.5, 0.8, 1.0, 1.37])
def test_constant_rate_factor_gives_that_percentage(factor):
  assert bd_rate(RATE, PSNR, RATE * factor, PSNR) == pytest.approx((factor - 1) * 100,
                                                                   abs=1e-9)


def test_identical_curves_give_zero():
  assert bd_rate(RATE, PSNR, RATE, PSNR) == pytest.approx(0, abs=1e-12)
  assert bd_quality(RATE, PSNR, RATE, PSNR) == pytest.approx(0, abs=1e-12)


def test_constant_quality_offset():
  assert bd_quality(RATE, PSNR, RATE, PSNR + 1.5) == pytest.approx(1.5, abs=1e-9)
  assert bd_rate(RATE, PSNR, RATE, PSNR + 1.0) < 0  # better quality at the same rate


def test_only_the_overlap_counts():
  # Points outside the anchor's quality range do not change the answer.
  wider_rate = np.concatenate([RATE * 0.9, [4.0]])
  wider_psnr = np.concatenate([PSNR, [60.0]])
  narrow = bd_rate(RATE, PSNR, RATE * 0.9, PSNR)
  assert bd_rate(RATE, PSNR, wider_rate, wider_psnr) == pytest.approx(narrow, abs=0.5)


def test_no_overlap_is_an_error():
  with pytest.raises(ValueError, match="do not overlap"):
    bd_rate(RATE, PSNR, RATE, PSNR + 100)
  with pytest.raises(ValueError, match="do not overlap"):
    bd_quality(RATE, PSNR, RATE * 100, PSNR)


def test_bad_curves():
  with pytest.raises(ValueError, match="at least two"):
    bd_rate([1.0], [30.0], RATE, PSNR)
  with pytest.raises(ValueError, match="non-finite"):
    bd_rate(RATE, PSNR, RATE, np.where(PSNR > 35, np.inf, PSNR))
