"""Metrics against independent computations; classical sweeps; evaluation outputs and resume."""

import csv
import io
import json

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image, JpegImagePlugin

from compressor.errors import EvaluationError
from compressor.evaluation import classical, metrics
from compressor.evaluation import rate_distortion as evaluation
from conftest import photo, random_image

# --- metrics ---------------------------------------------------------------------------


def test_psnr_matches_formula_and_tf_image():
  a, b = random_image(40, 56, seed=1), random_image(40, 56, seed=2)
  expected = 10 * np.log10(255.0 ** 2 / np.mean((a.astype(float) - b) ** 2))
  assert metrics.psnr(a, b) == pytest.approx(expected, abs=1e-9)
  assert metrics.psnr(a, b) == pytest.approx(float(tf.image.psnr(a, b, 255)), abs=1e-3)


def test_identical_images_have_infinite_psnr_and_unit_ms_ssim():
  a = random_image(64, 64)
  assert metrics.psnr(a, a) == float("inf")
  assert metrics.ms_ssim(a, a) == pytest.approx(1.0, abs=1e-6)
  assert metrics.ms_ssim_db(1.0) == float("inf")
  assert metrics.ms_ssim_db(0.9) == pytest.approx(10.0)


def _gaussian_window(size=11, sigma=1.5):
  coords = np.arange(size) - (size - 1) / 2
  g = np.exp(-coords ** 2 / (2 * sigma ** 2))
  g /= g.sum()
  return np.outer(g, g)


def _filter_valid(x, window):
  """'VALID' 2-D correlation of an HxWxC array, written with strides (no TF)."""
  k = window.shape[0]
  patches = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(0, 1))
  return np.einsum("hwcij,ij->hwc", patches, window)


def _ssim_terms(x, y, peak=255.0):
  c1, c2 = (0.01 * peak) ** 2, (0.03 * peak) ** 2
  w = _gaussian_window()
  mx, my = _filter_valid(x, w), _filter_valid(y, w)
  sxx = _filter_valid(x * x, w) - mx * mx
  syy = _filter_valid(y * y, w) - my * my
  sxy = _filter_valid(x * y, w) - mx * my
  luminance = (2 * mx * my + c1) / (mx ** 2 + my ** 2 + c1)
  contrast_structure = (2 * sxy + c2) / (sxx + syy + c2)
  # Means over pixels, then over channels, as tf.image does.
  return (luminance * contrast_structure).mean(axis=(0, 1)), contrast_structure.mean(axis=(0, 1))


def _ms_ssim_numpy(x, y, weights=(0.0448, 0.2856, 0.3001, 0.2363, 0.1333)):
  """Wang et al. (2003) MS-SSIM: contrast-structure at fine scales, full SSIM at the coarsest."""
  x, y = x.astype(np.float64), y.astype(np.float64)
  factors = []
  for i, weight in enumerate(weights):
    ssim, cs = _ssim_terms(x, y)
    factors.append((ssim if i == len(weights) - 1 else cs) ** weight)
    h, w = x.shape[0] // 2 * 2, x.shape[1] // 2 * 2
    x = x[:h, :w].reshape(h // 2, 2, w // 2, 2, -1).mean(axis=(1, 3))
    y = y[:h, :w].reshape(h // 2, 2, w // 2, 2, -1).mean(axis=(1, 3))
  return float(np.mean(np.prod(factors, axis=0)))


def test_ms_ssim_matches_an_independent_implementation():
  original = photo("astronaut")[:192, 160:352]
  rng = np.random.default_rng(0)
  noisy = np.clip(original + rng.normal(0, 12, original.shape), 0, 255).astype(np.uint8)
  expected = _ms_ssim_numpy(original, noisy)
  assert 0.5 < expected < 0.999
  assert metrics.ms_ssim(original, noisy) == pytest.approx(expected, abs=2e-4)


def test_ms_ssim_falls_with_noise_and_uses_fewer_scales_on_small_images():
  original = photo("coffee")[:48, :48]
  rng = np.random.default_rng(1)
  values = [metrics.ms_ssim(original, np.clip(original + rng.normal(0, s, original.shape),
                                              0, 255).astype(np.uint8)) for s in (2, 8, 30)]
  assert values[0] > values[1] > values[2]
  with pytest.raises(ValueError, match="at least 11 pixels"):
    metrics.ms_ssim(original[:8, :8], original[:8, :8])


# --- classical codecs -------------------------------------------------------------------


@pytest.mark.parametrize("codec", classical.CODECS, ids=lambda c: c.name)
def test_classical_sweep_rate_rises_with_quality(codec):
  pixels = photo("astronaut")[128:320, 128:320]
  sizes, psnrs = [], []
  for setting in codec.settings:
    data = codec.encode(pixels, setting)
    decoded = codec.decode(data)
    assert decoded.shape == pixels.shape
    sizes.append(len(data))
    psnrs.append(metrics.psnr(pixels, decoded))
  assert all(b > a for a, b in zip(sizes, sizes[1:])), sizes
  assert psnrs[-1] > psnrs[0] + 5


def test_jpeg_subsampling_is_what_the_name_says():
  pixels = photo("astronaut")[:64, :64]
  for name, expected in (("jpeg-420", 2), ("jpeg-444", 0)):
    data = classical.codec_by_name(name).encode(pixels, 75)
    with Image.open(io.BytesIO(data)) as image:
      assert JpegImagePlugin.get_sampling(image) == expected


def test_unknown_codec_is_named():
  with pytest.raises(ValueError, match="unknown codec 'gif'"):
    classical.codec_by_name("gif")


# --- evaluation --------------------------------------------------------------------------


def _image_folder(tmp_path, count=3):
  paths = []
  for i in range(count):
    path = tmp_path / f"img{i}.png"
    Image.fromarray(photo("astronaut")[64 * i:64 * i + 96, 100:196]).save(path)
    paths.append(str(path))
  return paths


def _counting_curve(name, settings, calls, fail_after=None):
  """Coarse quantization as a toy codec: bytes shrink as the step grows."""
  def code(pixels, step):
    calls.append(step)
    if fail_after is not None and len(calls) > fail_after:
      raise KeyboardInterrupt
    decoded = (np.round(pixels / step) * step).clip(0, 255).astype(np.uint8)
    data = bytes(max(1, pixels.size // (step * 4)))
    return data, decoded, 0.001, 0.002
  return evaluation.Curve(name, f"toy {name}", list(settings), code)


SCHEMA_KEYS = ("bpp", "psnr-rgb", "ms-ssim-rgb", "encoding_time", "decoding_time")


def _check_schema(result):
  assert set(result) == {"name", "description", "results"}
  assert isinstance(result["name"], str) and isinstance(result["description"], str)
  assert set(result["results"]) == set(SCHEMA_KEYS)
  columns = [result["results"][k] for k in SCHEMA_KEYS]
  assert len({len(c) for c in columns}) == 1
  assert all(isinstance(v, float) and np.isfinite(v) for c in columns for v in c)
  assert result["results"]["bpp"] == sorted(result["results"]["bpp"])


def test_evaluate_writes_schema_csv_bd_table_and_plots(tmp_path):
  images = _image_folder(tmp_path)
  calls = []
  curves = [_counting_curve("toy", (1, 2, 4, 8, 16), calls),
            evaluation.classical_curve("jpeg-420"), evaluation.classical_curve("webp")]
  out = tmp_path / "out"
  outputs = evaluation.evaluate(images, curves, str(out), references=[],
                                visual_image=images[0], crop=48)
  for name in ("toy", "jpeg-420", "webp"):
    with open(out / "curves" / f"{name}.json") as f:
      result = json.load(f)
    _check_schema(result)
  with open(out / "curves" / "toy.json") as f:
    toy = json.load(f)["results"]
  # Step 1 is lossless: infinite PSNR counts as the cap in the mean.
  assert toy["psnr-rgb"][-1] == evaluation.PSNR_CAP
  with open(outputs["per_image"], newline="") as f:
    rows = list(csv.DictReader(f))
  assert len(rows) == 3 * (5 + 12 + 12)
  lossless = [r for r in rows if r["curve"] == "toy" and r["setting"] == "1"]
  assert all(float(r["psnr_rgb"]) == float("inf") for r in lossless)
  # bpp in the CSV is the real byte count of each file.
  for r in rows:
    assert float(r["bpp"]) == pytest.approx(8 * int(r["bytes"]) / (96 * 96))
  table = json.load(open(out / "bd_table.json"))
  webp = next(t for t in table if t["curve"] == "webp")
  assert webp["bd_rate_psnr"] < 0  # WebP beats JPEG, as everywhere else
  assert "| webp |" in open(out / "bd_table.md").read()
  for key in ("plot", "visual"):
    with Image.open(outputs[key]) as image:
      assert image.size[0] > 200


def test_evaluate_resumes_and_keeps_what_finished(tmp_path):
  images = _image_folder(tmp_path, 2)
  calls = []
  out = str(tmp_path / "out")
  with pytest.raises(KeyboardInterrupt):
    evaluation.evaluate(images, [_counting_curve("toy", (2, 4, 8), calls, fail_after=4)], out,
                        anchor="")
  with open(f"{out}/per_image.csv", newline="") as f:
    assert len(list(csv.DictReader(f))) == 4
  calls.clear()
  evaluation.evaluate(images, [_counting_curve("toy", (2, 4, 8), calls)], out, anchor="")
  assert len(calls) == 2  # only the two measurements that were missing
  with open(f"{out}/per_image.csv", newline="") as f:
    assert len(list(csv.DictReader(f))) == 6


def test_evaluate_refuses_a_missing_anchor_or_visual_image(tmp_path):
  images = _image_folder(tmp_path, 1)
  curves = [_counting_curve("toy", (2, 4), [])]
  with pytest.raises(EvaluationError, match="anchor 'jpeg-420' is not among the curves"):
    evaluation.evaluate(images, curves, str(tmp_path / "a"))
  with pytest.raises(EvaluationError, match="not among the evaluated images"):
    evaluation.evaluate(images, curves, str(tmp_path / "b"), anchor="",
                        visual_image="elsewhere.png")


def test_evaluate_refuses_two_curves_of_one_name(tmp_path):
  images = _image_folder(tmp_path, 1)
  curves = [_counting_curve("toy", (2, 4), []), _counting_curve("toy", (8,), [])]
  with pytest.raises(EvaluationError, match="two curves are named toy"):
    evaluation.evaluate(images, curves, str(tmp_path / "out"), anchor="")


def test_parse_curve_spec():
  assert evaluation.parse_curve_spec("mine=a,b") == ("mine", ["a", "b"])
  for bad in ("mine", "=a", "mine=", "mine=,"):
    with pytest.raises(EvaluationError, match="NAME=MODEL"):
      evaluation.parse_curve_spec(bad)


def test_model_curve_measures_real_bitstreams(tmp_path, trained_model_dir, trained_model):
  from compressor.coding.codec import compress_image
  from compressor.coding.images import DecodedImage
  images = _image_folder(tmp_path, 2)
  curve = evaluation.model_curve([trained_model_dir])
  assert curve.settings[0].startswith("tiny@")
  evaluation.evaluate(images, [curve], str(tmp_path / "out"), anchor="")
  with open(tmp_path / "out" / "per_image.csv", newline="") as f:
    rows = list(csv.DictReader(f))
  for row, path in zip(rows, images):
    pixels = np.asarray(Image.open(path))
    data = compress_image(trained_model, DecodedImage(pixels, "RGB"))
    assert int(row["bytes"]) == len(data)
    assert float(row["psnr_rgb"]) < 60  # lossy, so a real reconstruction was measured
