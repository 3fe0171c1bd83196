"""The speed benchmark: FLOP counts by hand and from the layers, its images, the script end to end.

No timing is checked: the machine's load decides those.
"""

import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_compression as tfc
from PIL import Image

from compressor.errors import CompressorError
from compressor.nn.config import ModelConfig
from compressor.nn.registry import create_model
from compressor.tools.speed import benchmark, benchmark_images, transform_flops
from conftest import photo

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMALL = ModelConfig(num_filters=4, latent_channels=6, kernel_sizes=(3, 5), strides=(2, 4))


def test_flops_of_a_tiny_config_by_hand():
  # 17x9 is padded to 24x16 (total stride 8). Analysis: a 3x3 stride-2 correlation 3 -> 4
  # with 12x8 = 96 outputs, GDN over 4 channels there, a 5x5 stride-4 one 4 -> 6 with 3x2 = 6.
  gdn = 2 * 4 * 4 * 96
  analysis = 2 * 3 * 3 * 3 * 4 * 96 + gdn + 2 * 5 * 5 * 4 * 6 * 6
  # Synthesis, per input position: 5x5 up-convolution 6 -> 4 from the 6 latents, IGDN at 96
  # positions, 3x3 up-convolution 4 -> 3 from those 96.
  synthesis = 2 * 5 * 5 * 6 * 4 * 6 + gdn + 2 * 3 * 3 * 4 * 3 * 96
  assert transform_flops(SMALL, 17, 9) == {"analysis": analysis, "synthesis": synthesis}
  relu = dataclasses.replace(SMALL, normalization="relu")
  assert transform_flops(relu, 17, 9) == {"analysis": analysis - gdn,
                                          "synthesis": synthesis - gdn}


def count_from_layers(transform, inputs):
  """FLOPs from the built layers' kernels and the shapes they really see."""
  total = 0
  for layer in transform.layers:
    outputs = layer(inputs)
    # Strided correlations cost per output, up-convolutions per input.
    positions = np.prod((outputs if layer.corr else inputs).shape[1:3])
    total += 2 * np.prod(layer.kernel.shape) * positions
    if isinstance(layer.activation, tfc.GDN):
      total += 2 * outputs.shape[-1] ** 2 * np.prod(outputs.shape[1:3])
    inputs = outputs
  return total, inputs


def test_flops_follow_the_layers_that_transforms_builds():
  model = create_model(SMALL)
  analysis, latents = count_from_layers(model.analysis, tf.zeros((1, 24, 16, 3)))
  synthesis, image = count_from_layers(model.synthesis, latents)
  assert image.shape == (1, 24, 16, 3)
  assert transform_flops(SMALL, 17, 9) == {"analysis": analysis, "synthesis": synthesis}


def test_the_default_images_are_astronaut_mirrored_out(tmp_path):
  images = benchmark_images([(768, 512), (100, 60)])
  assert [(name, pixels.shape) for name, pixels in images] == [
      ("astronaut-768x512", (512, 768, 3)), ("astronaut-100x60", (60, 100, 3))]
  wide, original = images[0][1], photo("astronaut")
  np.testing.assert_array_equal(wide[:, :512], original)
  np.testing.assert_array_equal(wide[:, 512:], original[:, ::-1][:, :256])
  Image.fromarray(original[:30, :40]).save(tmp_path / "mine.png")
  [(name, pixels)] = benchmark_images(pattern=str(tmp_path / "*.png"))
  assert name == "mine.png" and pixels.shape == (30, 40, 3)


def test_benchmark_script_writes_the_report(seeded_model_dir, tmp_path):
  output = tmp_path / "speed.json"
  # A baseline checkout whose commands only say that they ran: its code, not the working
  # directory's nor the installed one, must be what the baseline's processes run.
  baseline = tmp_path / "baseline"
  (baseline / "compressor").mkdir(parents=True)
  (baseline / "compressor" / "__init__.py").write_text("")
  (baseline / "compressor" / "__main__.py").write_text(
      "import os, sys\n"
      "with open(os.path.join(os.path.dirname(__file__), 'ran'), 'a') as f:\n"
      "  f.write(sys.argv[1] + '\\n')\n")
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", COMPRESSOR_MODEL_PATH="")
  result = subprocess.run(
      [sys.executable, os.path.join(ROOT, "scripts", "benchmark_speed.py"),
       # A relative model path, though the timed processes start in another directory.
       "--model", os.path.relpath(seeded_model_dir, ROOT), "--sizes=64x48,40x24",
       "--repeats=1", "--cold_repeats=1", "--matmul_size=64", f"--output_json={output}",
       f"--baseline_checkout={baseline}"],
      capture_output=True, text=True, env=env, timeout=300, cwd=ROOT)
  assert result.returncode == 0, result.stderr
  assert "| astronaut-40x24 | decode (synthesis) |" in result.stdout
  report = json.loads(output.read_text())
  assert sorted(report) == ["cold_start", "images", "machine", "matmul", "model", "repeats",
                            "retraced", "tracing_counts"]
  assert report["model"]["name"] == "tiny" and report["matmul"]["gflops"] > 0
  assert [i["name"] for i in report["images"]] == ["astronaut-64x48", "astronaut-40x24"]
  for image in report["images"]:
    assert list(image["codecs"]) == ["compressor", "jpeg-420 q75", "webp q75", "avif q75"]
    for codec in image["codecs"].values():
      assert codec["bpp"] > 0 and codec["encode_seconds"] > 0 and codec["decode_seconds"] > 0
    for key in ("flops", "bound_seconds", "measured_over_bound"):
      assert sorted(image[key]) == ["decode", "encode"] and min(image[key].values()) > 0
  # Two image sizes, one trace each: the coding graphs take any size.
  assert max(report["tracing_counts"].values()) == 1 and not report["retraced"]
  cold = report["cold_start"]
  assert cold["image"] == "astronaut-64x48"
  assert (baseline / "compressor" / "ran").read_text().split() == ["compress", "decompress"]
  runs = ("import", "import_without_teardown", "compress", "decompress", "baseline_compress",
          "baseline_decompress")
  assert min([cold[f"{run}_seconds"] for run in runs] + [cold[f"{run}_cpu_seconds"] for run in runs]
             + [cold["warm_encode_seconds"], cold["warm_decode_seconds"]]) > 0
  # Each command's figures are shown beside the bare imports', with its excess.
  row = next(line for line in result.stdout.splitlines() if "`compressor compress`" in line)
  excess = cold["compress_seconds"] - cold["import_seconds"]
  assert f"{cold['compress_seconds']:.2f} ({excess:+.2f})" in row
  assert f"`compressor decompress` of {baseline}" in result.stdout


def test_a_baseline_without_the_package_is_refused_before_any_timing(tmp_path):
  with pytest.raises(CompressorError, match="holds no compressor package"):
    benchmark(str(tmp_path), [], baseline_checkout=str(tmp_path))
