"""The training campaign's learning curve: the bundled family, measured after each stretch."""

import json
import os

from compressor.evaluation.bdrate import bd_quality, bd_rate
from compressor.fileio import write_text_atomically

__all__ = ["add_point", "curve_point", "read_points"]


def _bd(anchor, curve):
  """(BD-rate %, BD-PSNR dB) of `curve` against `anchor`; None where they do not overlap."""
  a, c = anchor["results"], curve["results"]
  figures = []
  for function in (bd_rate, bd_quality):
    try:
      figures.append(function(a["bpp"], a["psnr-rgb"], c["bpp"], c["psnr-rgb"]))
    except ValueError:  # no common range of quality or rate
      figures.append(None)
  return tuple(figures)


def curve_point(curve, anchors, levels, machine_hours, date, note=""):
  """One point: every level's steps, bpp and PSNR, and BD figures against each anchor.

  `curve` and `anchors` are curves in CompressAI's schema (as `compressor evaluate`
  writes them); `levels` are (quality, lambda, total_steps) of the family, in the
  curve's order; `machine_hours` is the family's training time so far, in hours of
  this 2-core machine.
  """
  r = curve["results"]
  if len(levels) != len(r["bpp"]):
    raise ValueError(f"{len(levels)} levels but {len(r['bpp'])} points in the curve")
  point = {
      "date": date, "note": note, "machine_hours": machine_hours,
      "total_steps": max(steps for _, _, steps in levels),
      "levels": [{"quality": q, "lambda": lmbda, "total_steps": steps, "bpp": bpp,
                  "psnr": psnr}
                 for (q, lmbda, steps), bpp, psnr in zip(levels, r["bpp"], r["psnr-rgb"])],
  }
  for anchor in anchors:
    rate, quality = _bd(anchor, curve)
    point[f"bd_rate_vs_{anchor['name']}"] = rate
    point[f"bd_psnr_vs_{anchor['name']}"] = quality
  return point


def read_points(path):
  if not os.path.exists(path):
    return []
  with open(path) as f:
    return json.load(f)["points"]


def add_point(path, point):
  """Appends a point to the JSON file at `path`, in order of total steps.

  A point of the same total steps is the same stretch measured again, and is
  replaced; two stretches on one date are two points.
  """
  points = [p for p in read_points(path) if p["total_steps"] != point["total_steps"]]
  points.append(point)
  points.sort(key=lambda p: (p["total_steps"], p["date"]))
  write_text_atomically(path, json.dumps({"points": points}, indent=2) + "\n")
  return points
