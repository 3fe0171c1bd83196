"""The command-line tools as a user runs them: exit codes, one-line errors, outputs."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from compressor.cli import command_line
from compressor.coding.store import load_model
from compressor.coding.zoo import DEFAULT_FAMILY as FAMILY
from conftest import photo

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(*args, script=False):
  """Runs `compressor ARGS`, or with script=True `python scripts/ARGS[0].py ARGS[1:]`."""
  if script:
    command, args = [sys.executable, os.path.join(ROOT, "scripts", f"{args[0]}.py")], args[1:]
  else:
    command = command_line()
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
  from compressor.coding.images import read_image
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
  # `python -m compressor` (what command_line runs) and `python -m compressor.cli` are one CLI.
  old = subprocess.run([sys.executable, "-m", "compressor.cli"], capture_output=True, text=True)
  assert old.returncode == 2 and "usage: compressor COMMAND" in old.stderr + old.stdout
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
               "--curve", f"again={trained_model_dir}", "--codecs", "jpeg-420,webp",
               "--output_dir", out, script=True)
  assert result.returncode == 0, result.stderr
  assert sorted(os.listdir(out / "curves")) == [
      "again.json", "compressor.json", "jpeg-420.json", "webp.json"]
  assert "| webp |" in result.stdout and "| again |" in result.stdout  # the BD table
  # The same model under two names measures the same files.
  curves = {n: json.load(open(out / "curves" / f"{n}.json"))["results"]
            for n in ("again", "compressor")}
  assert curves["again"]["bpp"] == curves["compressor"]["bpp"]
  assert os.path.getsize(out / "rd.png") > 0


def test_evaluate_refuses_a_malformed_curve(tmp_path):
  Image.fromarray(photo("coffee")[:32, :32]).save(tmp_path / "a.png")
  result = run("evaluate", "--curve", "no-models", "--images", tmp_path / "*.png",
               "--output_dir", tmp_path / "out")
  one_line_error(result, "compressor evaluate", "a curve is NAME=MODEL[,MODEL...], not "
                 "'no-models'")
  assert not os.path.exists(tmp_path / "out")


def test_evaluate_names_an_unknown_codec(tmp_path):
  Image.fromarray(photo("coffee")[:32, :32]).save(tmp_path / "a.png")
  result = run("evaluate", "--codecs", "jpeg-420,gif", "--images", tmp_path / "*.png",
               "--output_dir", tmp_path / "out")
  one_line_error(result, "compressor evaluate", "unknown codec 'gif'")


@pytest.fixture
def bundled_env(tmp_path, trained_model_dir, photo_dir):
  """A bundled family of two levels, made by `compressor models --add`."""
  bundled = tmp_path / "bundled"
  env = {"COMPRESSOR_BUNDLED_DIR": str(bundled)}
  for level in (1, 2):
    result = run_env(env, "models", "--add", trained_model_dir,
                     "--name", f"{FAMILY}-q{level}",
                     "--measure_images", photo_dir / "coffee.png", "--measured_on", "coffee")
    assert result.returncode == 0, result.stderr
    assert "bundled " in result.stdout
  return env


def run_env(env, *args):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", COMPRESSOR_MODEL_PATH="", **env)
  return subprocess.run(command_line(*args), capture_output=True, text=True, env=env, timeout=300)


def test_models_lists_levels_and_compress_uses_them(bundled_env, rocket, tmp_path):
  listing = run_env(bundled_env, "models")
  assert listing.returncode == 0, listing.stderr
  lines = listing.stdout.splitlines()
  assert lines[1].split()[:2] == [f"{FAMILY}-q1", "1"]
  assert "on coffee (1 images)" in lines[2]
  # No --model: the default family's middle level.
  result = run_env(bundled_env, "compress", rocket, tmp_path / "a.cmpr")
  assert result.returncode == 0, result.stderr
  result = run_env(bundled_env, "compress", "--quality", "2", rocket, tmp_path / "b.cmpr")
  assert result.returncode == 0, result.stderr
  result = run_env(bundled_env, "decompress", tmp_path / "b.cmpr", tmp_path / "b.png")
  assert result.returncode == 0, result.stderr
  result = run_env(bundled_env, "compress", "--quality", "7", rocket, tmp_path / "c.cmpr")
  one_line_error(result, "compressor compress", "has no quality 7; bundled levels: 1, 2")
  assert not os.path.exists(tmp_path / "c.cmpr")


def test_target_bpp_names_the_chosen_level(bundled_env, rocket, tmp_path):
  result = run_env(bundled_env, "compress", "--target_bpp", "30", rocket, tmp_path / "a.cmpr")
  assert result.returncode == 0, result.stderr
  assert f"note: {FAMILY}-q2 is the highest rate within 30.0 bpp" in result.stdout
  result = run_env(bundled_env, "compress", "--target_bpp", "0.001", rocket,
                   tmp_path / "b.cmpr")
  assert result.returncode == 0, result.stderr
  assert f"nothing fits in 0.001 bpp; {FAMILY}-q1 makes the smallest" \
      in result.stdout
  result = run_env(bundled_env, "compress", "--target_bpp", "1", "--quality", "1", rocket,
                   tmp_path / "c.cmpr")
  assert result.returncode != 0 and "alternatives" in result.stderr


def test_demo_uses_the_bundled_default_and_reports_bpp_and_psnr(bundled_env, tmp_path):
  result = run_env(bundled_env, "demo", "--photo", "coffee", "--output_dir", tmp_path / "demo")
  assert result.returncode == 0, result.stderr
  assert f"with model {FAMILY}-q2 ->" in result.stdout  # the upper middle of levels 1, 2
  compressed = tmp_path / "demo" / "coffee.png.cmpr"
  size = os.path.getsize(compressed)
  assert f"{size} bytes, {8 * size / (400 * 600):.4f} bpp" in result.stdout
  decoded = np.asarray(Image.open(tmp_path / "demo" / "coffee.decoded.png"))
  original = np.asarray(Image.open(tmp_path / "demo" / "coffee.png"))
  expected = 10 * np.log10(255 ** 2 / np.mean((original.astype(float) - decoded) ** 2))
  assert f"PSNR {expected:.2f} dB" in result.stdout


def test_demo_without_bundled_models_says_so(tmp_path):
  result = run_env({"COMPRESSOR_BUNDLED_DIR": str(tmp_path / "empty")}, "demo",
                   "--output_dir", tmp_path / "demo")
  one_line_error(result, "compressor demo", "bundled: none")
  assert not os.path.exists(tmp_path / "demo")


def test_compress_and_decompress_folders(trained_model_dir, tmp_path):
  photos, out = tmp_path / "photos", tmp_path / "out"
  photos.mkdir()
  Image.fromarray(photo("coffee")[:40, :56]).save(photos / "a.png")
  (photos / "b.png").write_text("not a PNG")
  Image.fromarray(photo("rocket")[:48, :64]).save(photos / "c.png")
  result = run("compress", "--model", trained_model_dir, photos, out)
  # The bad file is reported on its line, the others are coded, and the exit status says so.
  one_line_error(result, "compressor compress", "1 of 3 files failed")
  lines = result.stdout.splitlines()
  assert lines[0].startswith(f"[1/3] {photos / 'a.png'} -> {out / 'a.png.cmpr'}: 56x40 RGB")
  assert lines[1].startswith(f"[2/3] {photos / 'b.png'}: error: ")
  assert "not an image Pillow can read" in lines[1]
  assert lines[2].startswith("[3/3] ") and lines[2].endswith("images/s, ETA 0s)")
  assert sorted(os.listdir(out)) == ["a.png.cmpr", "c.png.cmpr"]
  # Next to the inputs, with the model found by the fingerprint the files carry.
  result = run("decompress", "--model_path", os.path.dirname(trained_model_dir), out)
  assert result.returncode == 0, result.stderr
  assert len(result.stdout.splitlines()) == 2
  model = load_model(trained_model_dir)
  for name in ("a", "c"):
    original = np.asarray(Image.open(photos / f"{name}.png"))
    np.testing.assert_array_equal(np.asarray(Image.open(out / f"{name}.decoded.png")),
                                  model.reconstruct(original))
  # A second run is refused before anything is written.
  before = {name: (out / name).read_bytes() for name in os.listdir(out)}
  result = run("compress", "--model", trained_model_dir, photos, out)
  one_line_error(result, "compressor compress", "a.png.cmpr exists, and 1 more; pass --overwrite")
  assert result.stdout == ""
  assert {name: (out / name).read_bytes() for name in os.listdir(out)} == before


def test_commands_import_with_the_collector_paused_and_leave_it_running():
  # The CLI pauses the cyclic garbage collector while TensorFlow imports and freezes what the
  # imports made (docs/speed.md): afterwards the collector must run again, also when the import
  # fails, and the imported objects must be out of its passes.
  script = (
      "import gc, sys\n"
      "from compressor.cli import _import_command\n"
      "before = gc.get_freeze_count()\n"
      "_import_command('compressor.cli.decompress')\n"
      "assert gc.isenabled(), 'collector left off'\n"
      "assert 'tensorflow' in sys.modules and gc.get_freeze_count() > before + 100000\n"
      "try:\n"
      "  _import_command('compressor.cli.no_such_command')\n"
      "except ModuleNotFoundError:\n"
      "  assert gc.isenabled(), 'collector left off after a failed import'\n"
      "else:\n"
      "  raise AssertionError('no error')\n"
      "print('ok')\n")
  result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=False)
  assert result.returncode == 0, result.stderr[-2000:]
  assert result.stdout.strip() == "ok"
