"""Figures: rate-distortion curves, a side-by-side visual comparison, and coding cost by size."""

import json
import os

import matplotlib

matplotlib.use("Agg")  # files only, no display needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from compressor.coding.container import bits_per_pixel  # noqa: E402
from compressor.coding.images import read_image, split_alpha  # noqa: E402
from compressor.evaluation.metrics import ms_ssim_db, psnr  # noqa: E402

__all__ = ["learning_curve_plot", "rd_plot", "scaling_plot", "visual_comparison"]


def _load_references(paths):
  references = []
  for path in paths:
    with open(path) as f:
      data = json.load(f)
    if "bpp" in data.get("results", {}):
      references.append(data)
  return references


def rd_plot(results, reference_paths, path, title=None):
  """PSNR and MS-SSIM (dB) against bpp; references drawn dashed and labelled."""
  figure, axes = plt.subplots(1, 2, figsize=(13, 5.5))
  if title:
    figure.suptitle(title, fontsize=10)
  for result in results:
    r = result["results"]
    axes[0].plot(r["bpp"], r["psnr-rgb"], "o-", label=result["name"], markersize=3)
    axes[1].plot(r["bpp"], [ms_ssim_db(v) for v in r["ms-ssim-rgb"]], "o-",
                 label=result["name"], markersize=3)
  for reference in _load_references(reference_paths):
    r = reference["results"]
    label = f"{reference.get('name', '?')} (reference)"
    if "psnr-rgb" in r:
      axes[0].plot(r["bpp"], r["psnr-rgb"], "--", label=label, linewidth=1)
    if "ms-ssim-rgb" in r:
      axes[1].plot(r["bpp"], [ms_ssim_db(v) for v in r["ms-ssim-rgb"]], "--", label=label,
                   linewidth=1)
  for axis, ylabel in zip(axes, ("PSNR RGB (dB)", "MS-SSIM RGB (dB)")):
    axis.set_xlabel("bits per pixel")
    axis.set_ylabel(ylabel)
    axis.set_xlim(0, 2.0)
    axis.grid(alpha=0.3)
  axes[0].legend(fontsize=7)
  figure.tight_layout()
  figure.savefig(path, dpi=120)
  plt.close(figure)
  return path


def visual_comparison(image_path, curves, rows, path, crop=128, zoom=2):
  """Centre crops of the original and of each codec near the first curve's middle bpp."""
  original = split_alpha(read_image(image_path))[0]
  name = os.path.basename(image_path)
  mine = [r for r in rows if r["image"] == name]
  if not mine:
    raise ValueError(f"{name} was not among the evaluated images")
  first = curves[0]
  reference_setting = str(first.settings[len(first.settings) // 2])
  target = next(float(r["bpp"]) for r in mine
                if r["curve"] == first.name and r["setting"] == reference_setting)
  height, width = original.shape[:2]
  size = min(crop, height, width)
  top, left = (height - size) // 2, (width - size) // 2
  tiles = [("original", original)]
  for curve in curves:
    candidates = [r for r in mine if r["curve"] == curve.name]
    if not candidates:
      continue
    best = min(candidates, key=lambda r: abs(float(r["bpp"]) - target))
    setting = next(s for s in curve.settings if str(s) == best["setting"])
    data, decoded, _, _ = curve.code(original, setting)
    bpp = bits_per_pixel(len(data), width, height)
    tiles.append((f"{curve.name} {bpp:.2f} bpp {psnr(original, decoded):.1f} dB", decoded))
  label_height = 18
  tile = size * zoom
  sheet = Image.new("RGB", (len(tiles) * (tile + 4), tile + label_height), "white")
  draw = ImageDraw.Draw(sheet)
  for i, (label, pixels) in enumerate(tiles):
    patch = Image.fromarray(np.ascontiguousarray(pixels[top:top + size, left:left + size]))
    sheet.paste(patch.resize((tile, tile), Image.NEAREST), (i * (tile + 4), label_height))
    draw.text((i * (tile + 4) + 2, 3), label, fill="black")
  sheet.save(path)
  return path


def scaling_plot(rows, path):
  """Seconds and peak GiB against megapixels, encode and decode, tiled and whole."""
  figure, (times, memory) = plt.subplots(1, 2, figsize=(10, 4))
  for tiled, style in ((True, "-o"), (False, "--s")):
    selected = sorted((r for r in rows if r["tiled"] == tiled), key=lambda r: r["megapixels"])
    if not selected:
      continue
    megapixels = [r["megapixels"] for r in selected]
    label = "tiled" if tiled else "whole image"
    for what in ("encode", "decode"):
      times.plot(megapixels, [r[f"{what}_seconds"] for r in selected], style,
                 label=f"{what}, {label}")
      memory.plot(megapixels, [r[f"{what}_peak_bytes"] / 2**30 for r in selected], style,
                  label=f"{what}, {label}")
  times.set(xlabel="megapixels", ylabel="seconds (CLI, incl. start-up)")
  memory.set(xlabel="megapixels", ylabel="peak resident memory (GiB)")
  for axes in (times, memory):
    axes.grid(alpha=0.3)
    axes.legend()
  figure.tight_layout()
  figure.savefig(path, dpi=100)
  plt.close(figure)


def learning_curve_plot(points, path):
  """BD-rate against the anchors by total training steps, and each point's family as a curve.

  Levels are not compared across points by number: their lambdas may change between
  stretches, so the right panel draws each point's rate-distortion curve instead.
  """
  figure, (rates, curves) = plt.subplots(1, 2, figsize=(11, 4.2))
  steps = [p["total_steps"] for p in points]
  anchors = sorted({k[len("bd_rate_vs_"):] for p in points for k in p
                    if k.startswith("bd_rate_vs_")})
  for anchor in anchors:
    rates.plot(steps, [p.get(f"bd_rate_vs_{anchor}") for p in points], "o-",
               label=f"against {anchor}")
  rates.axhline(0, color="black", linewidth=0.8)
  rates.set(xlabel="total training steps", ylabel="BD-rate (%), PSNR; below 0 is better",
            xscale="log")
  for p in points:
    curves.plot([level["bpp"] for level in p["levels"]], [level["psnr"] for level in p["levels"]],
                "o-", label=f"{p['date']}, {p['total_steps']:,} steps")
  curves.set(xlabel="bits per pixel", ylabel="PSNR (dB) on the validation set")
  for axes in (rates, curves):
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
  figure.tight_layout()
  figure.savefig(path, dpi=100)
  plt.close(figure)
  return path
