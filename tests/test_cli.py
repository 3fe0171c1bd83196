"""The command-line tools as a user runs them: exit codes, one-line errors, outputs."""

import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from compressor.store import load_model
from conftest import photo

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(*args, script=False):
  """Runs `compressor ARGS`, or with script=True `python scripts/ARGS[0].py ARGS[1:]`."""
  if script:
    command, args = [sys.executable, os.path.join(ROOT, "scripts", f"{args[0]}.py")], args[1:]
  else:
    command = [sys.executable, "-m", "compressor.cli"]
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", COMPRESSOR_MODEL_PATH="")
  return subprocess.run(command + [str(a) for a in args], capture_output=True, text=True,
                        env=env, timeout=300)


def one_line_error(result, program, text):
  assert result.returncode == 1, result.stderr
  lines = result.stderr.strip().splitlines()
  assert lines[-1].startswith(f"{program}: error: ") and text in lines[-1], lines


@pytest.fixture
def rocket(tmp_path):
  path = tmp_path / "rocket.jpg"
  Image.fromarray(photo("rocket")[:150, :201]).save(path, quality=95)
  return path


def test_compress_then_decompress_by_fingerprint(trained_model_dir, rocket, tmp_path):
  result = run("compress", "--model", trained_model_dir, rocket)
  assert result.returncode == 0, result.stderr
  compressed = str(rocket) + ".cmpr"
  size = os.path.getsize(compressed)
  assert f"{size} bytes, {8 * size / (150 * 201):.4f} bpp" in result.stdout
  # No --model: the file names its model, found on --model_path.
  result = run("decompress", "--model_path", os.path.dirname(trained_model_dir),
               compressed, script=True)
  assert result.returncode == 0, result.stderr
  decoded = tmp_path / "rocket.decoded.png"
  assert f"-> {decoded}: 201x150 RGB" in result.stdout
  model = load_model(trained_model_dir)
  from compressor.images import read_image
  np.testing.assert_array_equal(np.asarray(Image.open(decoded)),
                                model.reconstruct(read_image(str(rocket)).pixels))
  # A second run refuses to clobber what the first wrote.
  again = run("decompress", "--model", trained_model_dir, compressed)
  one_line_error(again, "compressor decompress", "exists; pass --overwrite")


def test_missing_input_gives_one_line_and_no_output(trained_model_dir, tmp_path):
  result = run("compress", "--model", trained_model_dir, tmp_path / "nope.png")
  one_line_error(result, "compressor compress", "no such file")
  assert os.listdir(tmp_path) == []


def test_corrupt_bitstream_gives_one_line_and_no_output(trained_model_dir, tmp_path):
  bad = tmp_path / "bad.cmpr"
  bad.write_bytes(b"CMPR" + bytes(60))
  result = run("decompress", "--model", trained_model_dir, bad, tmp_path / "out.png")
  one_line_error(result, "compressor decompress", "")
  assert sorted(os.listdir(tmp_path)) == ["bad.cmpr"]


def test_unknown_model_is_named(trained_model_dir, rocket, tmp_path):
  assert run("compress", "--model", trained_model_dir, rocket).returncode == 0
  result = run("decompress", str(rocket) + ".cmpr")
  one_line_error(result, "compressor decompress", "model 'tiny'")


def test_usage_and_help():
  assert run().returncode == 2
  result = run("train", "--helpfull")  # absl exits 1 after printing help
  assert "--lambda" in result.stdout and "--train_glob" in result.stdout
  assert run("compress").returncode == 1
  assert "unknown command" in run("bogus").stderr


def test_evaluate_writes_curves_table_and_plot(trained_model_dir, tmp_path):
  images = tmp_path / "images"
  images.mkdir()
  for name in ("coffee", "chelsea"):
    Image.fromarray(photo(name)[:64, :96]).save(images / f"{name}.png")
  out = tmp_path / "eval"
  result = run("evaluate", "--model", trained_model_dir, "--images", images / "*.png",
               "--codecs", "jpeg-420,webp", "--output_dir", out, script=True)
  assert result.returncode == 0, result.stderr
  assert sorted(os.listdir(out / "curves")) == ["compressor.json", "jpeg-420.json", "webp.json"]
  assert "| webp |" in result.stdout  # the BD table is printed
  assert os.path.getsize(out / "rd.png") > 0


def test_evaluate_names_an_unknown_codec(tmp_path):
  Image.fromarray(photo("coffee")[:32, :32]).save(tmp_path / "a.png")
  result = run("evaluate", "--codecs", "jpeg-420,gif", "--images", tmp_path / "*.png",
               "--output_dir", tmp_path / "out")
  one_line_error(result, "compressor evaluate", "unknown codec 'gif'")
