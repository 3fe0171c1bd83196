"""Paired A/B of two trained models: their training loss, image by image, from real bitstreams."""

import math

import numpy as np

from compressor.errors import EvaluationError
from compressor.evaluation.rate_distortion import PSNR_CAP

__all__ = ["image_loss", "paired_loss"]


def image_loss(bpp, psnr_db, lmbda):
  """bpp + lambda x MSE of one coded image, MSE on the 0-255 scale (what training minimises)."""
  return bpp + lmbda * 255.0 ** 2 * 10.0 ** (-min(psnr_db, PSNR_CAP) / 10.0)


def _arm(rows, curve):
  """{image: (bpp, PSNR)} of a curve that is one model (one setting) in per-image rows."""
  mine = [r for r in rows if r["curve"] == curve]
  settings = {r["setting"] for r in mine}
  if len(settings) != 1:
    raise EvaluationError(f"curve {curve!r} has {len(settings)} models in the per-image rows; "
                          "an arm of an A/B is one model")
  return {r["image"]: (float(r["bpp"]), float(r["psnr_rgb"])) for r in mine}


def paired_loss(rows, lmbda, baseline, candidate):
  """The candidate's loss against the baseline's on the images both coded.

  Images are paired because they differ far more from each other than two
  arms differ on one image: the mean of the per-image differences and its
  standard error say whether the candidate is better, where the two curves'
  means alone would not.
  """
  arms = {name: _arm(rows, name) for name in (baseline, candidate)}
  images = sorted(set(arms[baseline]) & set(arms[candidate]))
  if len(images) < 2:
    raise EvaluationError(f"{baseline!r} and {candidate!r} share {len(images)} images; "
                          "a paired comparison needs at least two")
  summary = {"images": len(images), "lambda": lmbda}
  losses = {}
  for name, arm in arms.items():
    points = np.array([arm[image] for image in images])
    losses[name] = np.array([image_loss(b, p, lmbda) for b, p in points])
    summary[name] = {"bpp": float(points[:, 0].mean()),
                     "psnr": float(np.minimum(points[:, 1], PSNR_CAP).mean()),
                     "loss": float(losses[name].mean())}
  differences = losses[candidate] - losses[baseline]
  summary["difference"] = float(differences.mean())
  summary["standard_error"] = float(differences.std(ddof=1) / math.sqrt(len(images)))
  summary["candidate_lower"] = int((differences < 0).sum())
  return summary
