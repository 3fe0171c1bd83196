"""Rate-distortion evaluation: real bitstreams of every codec, per image, then curves."""

import csv
import dataclasses
import json
import os
import time

import numpy as np
from absl import logging

from compressor.coding.codec import compress_image, decompress_bytes
from compressor.coding.container import bits_per_pixel
from compressor.coding.images import DecodedImage, read_image, split_alpha
from compressor.coding.refinement import check_effort
from compressor.coding.store import load_model, read_description
from compressor.errors import EvaluationError
from compressor.evaluation.bdrate import bd_quality, bd_rate
from compressor.evaluation.classical import codec_by_name
from compressor.evaluation.metrics import ms_ssim, ms_ssim_db, psnr
from compressor.fileio import write_text_atomically
from compressor.progress import Pace, format_duration

__all__ = [
    "Curve",
    "PSNR_CAP",
    "bd_table",
    "classical_curve",
    "curve_results",
    "evaluate",
    "model_curve",
    "parse_curve_spec",
    "read_rows",
]

FIELDS = ("curve", "setting", "image", "width", "height", "bytes", "bpp", "psnr_rgb",
          "ms_ssim_rgb", "ms_ssim_rgb_db", "encoding_time", "decoding_time")
# Identical images have infinite PSNR; in means over images it counts as this.
PSNR_CAP = 100.0


@dataclasses.dataclass
class Curve:
  """A codec with its rate settings: code(pixels, setting) -> (bytes, decoded)."""

  name: str
  description: str
  settings: list
  code: callable


def _timed_round_trip(encode, decode):
  """(data, decoded, encode seconds, decode seconds) of encode() and then decode(data)."""
  start = time.perf_counter()
  data = encode()
  middle = time.perf_counter()
  decoded = decode(data)
  return data, decoded, middle - start, time.perf_counter() - middle


def model_curve(model_dirs, name="compressor", effort=0):
  """One rate point per trained model, each through the real container.

  A point is keyed by the model's name and fingerprint, so resuming after a
  model was retrained in the same directory never mixes old and new results.
  `effort` > 0 refines the latents (compressor.coding.refinement); the key then
  names the effort too, since the model makes another rate point.
  """
  check_effort(effort)
  suffix = f"@effort{effort}" if effort else ""
  dir_of = {}
  for model_dir in model_dirs:
    description = read_description(model_dir)
    dir_of[f"{description['name']}@{description['fingerprint'][:12]}{suffix}"] = model_dir
  models = {}

  def code(pixels, key):
    if key not in models:
      models[key] = load_model(dir_of[key])
    model = models[key]
    return _timed_round_trip(
        lambda: compress_image(model, DecodedImage(pixels, "RGB"), effort=effort),
        lambda data: decompress_bytes(data, model).pixels)

  description = f"compressor models: {', '.join(map(str, model_dirs))}"
  if effort:
    description += f" (encoder effort {effort})"
  return Curve(name, description, list(dir_of), code)


def parse_curve_spec(spec):
  """(name, [model specs]) of a "NAME=MODEL,MODEL,..." command-line curve."""
  name, sep, models = spec.partition("=")
  models = [m for m in models.split(",") if m]
  if not sep or not name or not models:
    raise EvaluationError(f"a curve is NAME=MODEL[,MODEL...], not {spec!r}")
  return name, models


def classical_curve(codec_name):
  codec = codec_by_name(codec_name)

  def code(pixels, setting):
    return _timed_round_trip(lambda: codec.encode(pixels, setting), codec.decode)

  return Curve(codec.name, codec.description, list(codec.settings), code)


def _measure(curve, setting, path, pixels):
  data, decoded, encoding, decoding = curve.code(pixels, setting)
  height, width = pixels.shape[:2]
  similarity = ms_ssim(pixels, decoded)
  return dict(curve=curve.name, setting=str(setting), image=os.path.basename(path),
              width=width, height=height, bytes=len(data),
              bpp=bits_per_pixel(len(data), width, height), psnr_rgb=psnr(pixels, decoded),
              ms_ssim_rgb=similarity, ms_ssim_rgb_db=ms_ssim_db(similarity),
              encoding_time=encoding, decoding_time=decoding)


def read_rows(path):
  """The rows of a per-image CSV, or none if it does not exist yet."""
  if not os.path.exists(path):
    return []
  with open(path, newline="") as f:
    return list(csv.DictReader(f))


def _run(images, curves, csv_path):
  """Measures what csv_path lacks, appending each row as it is measured."""
  done = {(r["curve"], r["setting"], r["image"]) for r in read_rows(csv_path)}
  work = [(c, s, p) for c in curves for s in c.settings for p in images
          if (c.name, str(s), os.path.basename(p)) not in done]
  total = sum(len(c.settings) for c in curves) * len(images)
  logging.info("%d of %d measurements already in %s; %d to go", total - len(work), total,
               csv_path, len(work))
  pixels_of = {}
  new_file = not os.path.exists(csv_path)
  pace = Pace(len(work))
  with open(csv_path, "a", newline="") as f:
    writer = csv.DictWriter(f, fieldnames=FIELDS)
    if new_file:
      writer.writeheader()
    for i, (curve, setting, path) in enumerate(work, 1):
      if path not in pixels_of:
        pixels_of[path] = split_alpha(read_image(path))[0]
      writer.writerow(_measure(curve, setting, path, pixels_of[path]))
      f.flush()
      if i % max(1, len(work) // 40) == 0 or i == len(work):
        logging.info("[%d/%d] %3.0f%%  %s %s  %.1f/s  ETA %s", total - len(work) + i,
                     total, 100.0 * i / len(work), curve.name, setting, pace.rate(i),
                     format_duration(pace.eta(i)))


def curve_results(rows, curve):
  """Means over images for each setting, sorted by rate, in CompressAI's schema."""
  points = []
  for setting in map(str, curve.settings):
    mine = [r for r in rows if r["curve"] == curve.name and r["setting"] == setting]
    if not mine:
      continue
    mean = lambda key: float(np.mean([float(r[key]) for r in mine]))  # noqa: B023 (used here)
    points.append(dict(
        bpp=mean("bpp"),
        psnr=float(np.mean([min(float(r["psnr_rgb"]), PSNR_CAP) for r in mine])),
        msssim=mean("ms_ssim_rgb"), enc=mean("encoding_time"), dec=mean("decoding_time")))
  points.sort(key=lambda p: p["bpp"])
  return {"name": curve.name, "description": curve.description, "results": {
      "bpp": [p["bpp"] for p in points], "psnr-rgb": [p["psnr"] for p in points],
      "ms-ssim-rgb": [p["msssim"] for p in points],
      "encoding_time": [p["enc"] for p in points],
      "decoding_time": [p["dec"] for p in points]}}


def _delta(function, anchor, test, quality):
  try:
    return function(anchor["bpp"], quality(anchor), test["bpp"], quality(test))
  except ValueError:  # no overlap, or too few points
    return None


def bd_table(results, anchor_name):
  """BD-rate (PSNR and MS-SSIM dB) and BD-PSNR of every curve against the anchor."""
  by_name = {r["name"]: r["results"] for r in results}
  if anchor_name not in by_name:
    raise ValueError(f"anchor {anchor_name!r} is not among the curves")
  anchor = by_name[anchor_name]
  psnr_of = lambda r: r["psnr-rgb"]
  msssim_db_of = lambda r: [ms_ssim_db(v) for v in r["ms-ssim-rgb"]]
  return [dict(curve=name, anchor=anchor_name,
               bd_rate_psnr=_delta(bd_rate, anchor, curve, psnr_of),
               bd_psnr=_delta(bd_quality, anchor, curve, psnr_of),
               bd_rate_ms_ssim=_delta(bd_rate, anchor, curve, msssim_db_of))
          for name, curve in by_name.items() if name != anchor_name]


def _markdown(table):
  fmt = lambda v, unit: "n/a (no overlap)" if v is None else f"{v:+.1f}{unit}"
  lines = [f"| curve | BD-rate vs {table[0]['anchor']} (PSNR) | BD-PSNR | "
           "BD-rate (MS-SSIM dB) |", "| --- | --- | --- | --- |"] if table else []
  lines += [f"| {r['curve']} | {fmt(r['bd_rate_psnr'], '%')} | {fmt(r['bd_psnr'], ' dB')} | "
            f"{fmt(r['bd_rate_ms_ssim'], '%')} |" for r in table]
  return "\n".join(lines) + "\n"


def evaluate(images, curves, output_dir, anchor="jpeg-420", references=(),
             visual_image=None, crop=128, dataset=None):
  """Runs (or resumes) every measurement, then writes curves, BD table and plots.

  An empty `anchor` skips the BD table.
  """
  from compressor.evaluation import plots  # matplotlib is only needed here
  names = [c.name for c in curves]
  repeated = sorted({n for n in names if names.count(n) > 1})
  if repeated:
    raise EvaluationError(f"two curves are named {', '.join(repeated)}; give each its own name")
  if anchor and anchor not in names:
    raise EvaluationError(f"anchor {anchor!r} is not among the curves ({', '.join(names)})")
  if visual_image is not None and os.path.basename(visual_image) not in {
      os.path.basename(p) for p in images}:
    raise EvaluationError(f"visual image {visual_image} is not among the evaluated images")
  os.makedirs(os.path.join(output_dir, "curves"), exist_ok=True)
  csv_path = os.path.join(output_dir, "per_image.csv")
  _run(images, curves, csv_path)
  rows = read_rows(csv_path)
  results = [curve_results(rows, c) for c in curves]
  for result in results:
    write_text_atomically(os.path.join(output_dir, "curves", f"{result['name']}.json"),
                          json.dumps(result, indent=2))
  outputs = {"per_image": csv_path, "curves": os.path.join(output_dir, "curves")}
  if anchor:
    table = bd_table(results, anchor)
    write_text_atomically(os.path.join(output_dir, "bd_table.json"),
                          json.dumps(table, indent=2))
    write_text_atomically(os.path.join(output_dir, "bd_table.md"), _markdown(table))
    outputs["bd_table"] = os.path.join(output_dir, "bd_table.md")
  title = f"solid: measured on {dataset or f'{len(images)} images'}"
  if references:
    title += "; dashed: reference curves (other images, not directly comparable)"
  outputs["plot"] = plots.rd_plot(results, references, os.path.join(output_dir, "rd.png"),
                                  title)
  if visual_image is not None:
    outputs["visual"] = plots.visual_comparison(
        visual_image, curves, rows, os.path.join(output_dir, "visual.png"), crop)
  return outputs
