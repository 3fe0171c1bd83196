"""Time-to-quality: training recipes in turn for one wall-clock budget each, then measured."""

import json
import os
import subprocess

import numpy as np
from absl import logging

from compressor.cli import command_line
from compressor.coding.store import load_model
from compressor.errors import CompressorError
from compressor.evaluation import rate_distortion as evaluation
from compressor.tools.recipes import flagfile_args

__all__ = ["compare_recipes", "gain_over_anchor"]


def gain_over_anchor(point, anchor):
  """PSNR of `point` minus the anchor curve's PSNR at the same bpp (linear in log-rate).

  None when the point's rate is outside the anchor's range: extrapolating a
  rate-distortion curve would invent the comparison.
  """
  rates, qualities = np.log(anchor["bpp"]), np.asarray(anchor["psnr-rgb"])
  rate = np.log(point["bpp"])
  if not rates.min() <= rate <= rates.max():
    return None
  order = np.argsort(rates)
  return float(point["psnr-rgb"] - np.interp(rate, rates[order], qualities[order]))


def _train_all(recipes, minutes, train_glob, output_dir):
  """Trains every recipe alone, one after the other: side by side, each would get a share of
  the cores that depends on the others, and equal wall-clock time would not be equal work."""
  for name, flagfiles in recipes:
    model_dir = os.path.join(output_dir, name)
    command = command_line("train", *flagfile_args(flagfiles), f"--model_dir={model_dir}",
                           f"--train_glob={train_glob}", f"--name={name}",
                           "--steps=1000000000", f"--max_minutes={minutes}")
    logging.info("training %s for %g minutes: %s", name, minutes, " ".join(command))
    log_path = os.path.join(output_dir, f"{name}.log")
    with open(log_path, "ab") as log:
      if subprocess.run(command, stdout=log, stderr=log, check=False).returncode != 0:
        raise CompressorError(f"training {name} failed; see {log_path}")


def compare_recipes(recipes, minutes, train_glob, images, output_dir, anchor="jpeg-420"):
  """Trains each (name, flagfiles) for `minutes`, one after the other, then measures on `images`.

  Returns one dict per recipe: steps reached, mean bpp and PSNR of real
  bitstreams, and the PSNR gain over the anchor codec at that bpp.
  """
  os.makedirs(output_dir, exist_ok=True)
  _train_all(recipes, minutes, train_glob, output_dir)
  curves = [evaluation.model_curve([os.path.join(output_dir, name)], name)
            for name, _ in recipes] + [evaluation.classical_curve(anchor)]
  evaluation.evaluate(images, curves, os.path.join(output_dir, "evaluation"), anchor=anchor)
  rows = evaluation.read_rows(os.path.join(output_dir, "evaluation", "per_image.csv"))
  reference = evaluation.curve_results(rows, curves[-1])["results"]
  report = []
  for (name, flagfiles), curve in zip(recipes, curves):
    result = evaluation.curve_results(rows, curve)["results"]
    point = {"bpp": result["bpp"][0], "psnr-rgb": result["psnr-rgb"][0]}
    report.append(dict(
        recipe=name, flagfiles=list(flagfiles), minutes=minutes,
        steps=load_model(os.path.join(output_dir, name)).metadata["steps"],
        bpp=point["bpp"], psnr=point["psnr-rgb"],
        psnr_gain_over_anchor=gain_over_anchor(point, reference), anchor=anchor))
  with open(os.path.join(output_dir, "time_to_quality.json"), "w") as f:
    json.dump(report, f, indent=2)
  return report
