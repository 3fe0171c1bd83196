"""Time-to-quality: training recipes side by side for one wall-clock budget, then measured."""

import json
import os
import subprocess
import sys

import numpy as np
from absl import logging

from compressor import evaluation
from compressor.store import load_model

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
  """Starts every recipe at once, so machine noise falls on all of them alike."""
  processes = []
  for name, flagfile in recipes:
    model_dir = os.path.join(output_dir, name)
    command = [sys.executable, "-m", "compressor.cli", "train", f"--flagfile={flagfile}",
               f"--model_dir={model_dir}", f"--train_glob={train_glob}", f"--name={name}",
               "--steps=1000000000", f"--max_minutes={minutes}"]
    log = open(os.path.join(output_dir, f"{name}.log"), "ab")
    processes.append((name, subprocess.Popen(command, stdout=log, stderr=log), log))
    logging.info("training %s for %g minutes: %s", name, minutes, " ".join(command))
  for name, process, log in processes:
    if process.wait() != 0:
      raise RuntimeError(f"training {name} failed; see {log.name}")
    log.close()


def compare_recipes(recipes, minutes, train_glob, images, output_dir, anchor="jpeg-420"):
  """Trains each (name, flagfile) for `minutes`, side by side, then measures on `images`.

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
  for (name, flagfile), curve in zip(recipes, curves):
    result = evaluation.curve_results(rows, curve)["results"]
    point = {"bpp": result["bpp"][0], "psnr-rgb": result["psnr-rgb"][0]}
    report.append(dict(
        recipe=name, flagfile=flagfile, minutes=minutes,
        steps=load_model(os.path.join(output_dir, name)).metadata["steps"],
        bpp=point["bpp"], psnr=point["psnr-rgb"],
        psnr_gain_over_anchor=gain_over_anchor(point, reference), anchor=anchor))
  with open(os.path.join(output_dir, "time_to_quality.json"), "w") as f:
    json.dump(report, f, indent=2)
  return report
