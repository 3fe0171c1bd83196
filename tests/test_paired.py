"""Paired A/B of two models on the training loss: the formula, the pairing, the script."""

import csv
import json

import numpy as np
import pytest
from test_cli import run

from compressor.errors import EvaluationError
from compressor.evaluation.metrics import psnr
from compressor.evaluation.paired import image_loss, paired_loss
from compressor.evaluation.rate_distortion import FIELDS


def test_image_loss_is_bpp_plus_lambda_times_the_mse_of_the_pixels():
  rng = np.random.default_rng(0)
  original = rng.integers(0, 256, (16, 24, 3)).astype(np.uint8)
  decoded = np.clip(original + rng.integers(-9, 10, original.shape), 0, 255).astype(np.uint8)
  mse = np.mean((original.astype(float) - decoded) ** 2)
  assert image_loss(0.5, psnr(original, decoded), 0.01) == pytest.approx(0.5 + 0.01 * mse)


def _rows(curve, setting, points):
  return [dict(curve=curve, setting=setting, image=image, bpp=bpp, psnr_rgb=quality)
          for image, (bpp, quality) in points.items()]


def test_arms_are_paired_by_image():
  baseline = {"a.png": (0.5, 30.0), "b.png": (1.0, 25.0), "c.png": (0.2, 35.0)}
  candidate = {"a.png": (0.45, 30.0), "b.png": (1.1, 25.5), "d.png": (9.0, 10.0)}
  rows = _rows("old", "m@1", baseline) + _rows("new", "m@2", candidate)
  summary = paired_loss(rows, 0.01, "old", "new")
  differences = [image_loss(*candidate[i], 0.01) - image_loss(*baseline[i], 0.01)
                 for i in ("a.png", "b.png")]  # only the images both coded
  assert summary["images"] == 2
  assert summary["difference"] == pytest.approx(np.mean(differences))
  assert summary["standard_error"] == pytest.approx(np.std(differences, ddof=1) / np.sqrt(2))
  assert summary["candidate_lower"] == sum(d < 0 for d in differences)
  assert summary["old"]["bpp"] == pytest.approx(0.75)
  assert summary["new"]["psnr"] == pytest.approx(27.75)


def test_an_arm_is_one_model():
  rows = (_rows("old", "m@1", {"a.png": (0.5, 30.0), "b.png": (1.0, 25.0)}) +
          _rows("old", "m@2", {"a.png": (0.4, 29.0)}) +
          _rows("new", "n@1", {"a.png": (0.5, 30.0), "b.png": (1.0, 25.0)}))
  with pytest.raises(EvaluationError, match="'old' has 2 models"):
    paired_loss(rows, 0.01, "old", "new")
  with pytest.raises(EvaluationError, match="'gone' has 0 models"):
    paired_loss(rows, 0.01, "new", "gone")


def test_script_reads_arms_from_two_evaluations(tmp_path):
  rng = np.random.default_rng(3)
  arms = {name: {f"{i}.png": (rng.uniform(0.2, 1.0), rng.uniform(25, 35)) for i in range(6)}
          for name in ("float", "integer")}
  paths = []
  for name, points in arms.items():
    path = tmp_path / f"{name}.csv"
    with open(path, "w", newline="") as f:
      writer = csv.DictWriter(f, fieldnames=FIELDS, restval="0")
      writer.writeheader()
      writer.writerows(_rows(name, f"{name}@0", points))
    paths.append(path)
  output = tmp_path / "ab.json"
  result = run("compare_arms", "--per_image", paths[0], "--per_image", paths[1],
               "--lambda", 0.0075, "--baseline", "float", "--candidate", "integer",
               "--output_json", output, script=True)
  assert result.returncode == 0, result.stderr
  expected = paired_loss(_rows("float", "f", arms["float"]) +
                         _rows("integer", "i", arms["integer"]), 0.0075, "float", "integer")
  written = json.loads(output.read_text())
  for arm in ("float", "integer"):
    assert written.pop(arm) == pytest.approx(expected.pop(arm))
  assert written == pytest.approx(expected)
  assert f"loss {expected['difference']:+.4f}" in result.stdout
  missing = run("compare_arms", "--per_image", tmp_path / "none.csv", "--lambda", 0.01,
                "--baseline", "float", "--candidate", "integer", script=True)
  assert missing.returncode != 0 and "no per-image rows" in missing.stderr
