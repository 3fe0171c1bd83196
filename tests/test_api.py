"""The public API (compressor.encode, decode, load_model, read_header) and `compressor info`."""

import dataclasses
import os
import signal
import subprocess
import sys
import warnings

import numpy as np
import pytest
from PIL import Image

import compressor
from compressor import api
from compressor.cli import command_line
from compressor.coding import container, store
from compressor.coding.codec import compress_file
from compressor.coding.zoo import bundled_models
from compressor.errors import BitstreamError, CompressorError, ImageError, ModelError
from conftest import random_image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def model(seeded_model_dir):
  return compressor.load_model(seeded_model_dir)


@pytest.fixture(scope="module")
def rgb_file(model):
  return compressor.encode(random_image(20, 30), model=model)


def test_round_trip_gives_the_forward_pass(model):
  pixels = random_image(33, 17)
  with warnings.catch_warnings():
    # An RGB array needs no conversion, hence no warning.
    warnings.simplefilter("error", compressor.CompressorWarning)
    data = compressor.encode(pixels, model=model)
  decoded = compressor.decode(data, model=model)
  assert isinstance(decoded, Image.Image) and decoded.mode == "RGB"
  assert decoded.size == (17, 33)
  np.testing.assert_array_equal(np.asarray(decoded), model.reconstruct(pixels))


def test_encode_makes_the_file_compress_makes(model, seeded_model_dir, tmp_path):
  path = tmp_path / "photo.png"
  Image.fromarray(random_image(24, 40, channels=4)).save(path)
  compress_file(model, str(path), str(tmp_path / "photo.cmpr"))
  with Image.open(path) as image:
    data = compressor.encode(image, model=seeded_model_dir)
  assert data == (tmp_path / "photo.cmpr").read_bytes()


@pytest.mark.parametrize("shape, layout", [((9, 11), "L"), ((9, 11, 1), "L"), ((9, 11, 2), "LA"),
                                           ((9, 11, 3), "RGB"), ((9, 11, 4), "RGBA")])
def test_array_layouts(model, shape, layout):
  pixels = np.random.default_rng(1).integers(0, 255, shape, dtype=np.uint8)
  data = compressor.encode(pixels, model=model)
  assert compressor.read_header(data).layout == layout
  decoded = compressor.decode(data, model=model)
  assert decoded.mode == layout and decoded.size == (11, 9)
  if layout.endswith("A"):  # alpha is stored losslessly
    np.testing.assert_array_equal(np.asarray(decoded)[:, :, -1], pixels[:, :, -1])


def test_conversions_are_warned_as_compress_notes_them(model):
  opaque = np.dstack([random_image(8, 8), np.full((8, 8), 255, np.uint8)])
  with pytest.warns(compressor.CompressorWarning, match="fully opaque and was dropped"):
    assert compressor.read_header(compressor.encode(opaque, model=model)).layout == "RGB"
  cmyk = Image.fromarray(random_image(8, 8)).convert("CMYK")
  with pytest.warns(compressor.CompressorWarning, match="CMYK image converted to RGB") as caught:
    assert compressor.read_header(compressor.encode(cmyk, model=model)).layout == "RGB"
  assert [w.filename for w in caught if w.category is compressor.CompressorWarning] == [__file__]
  deep = Image.fromarray(np.arange(64, dtype=np.uint16).reshape(8, 8) * 1000)
  with pytest.warns(compressor.CompressorWarning, match="reduced to 8 bits"):
    assert compressor.read_header(compressor.encode(deep, model=model)).layout == "L"


def test_read_header(model, rgb_file):
  header = compressor.read_header(rgb_file)
  assert (header.width, header.height, header.layout) == (30, 20, "RGB")
  assert header.model_name == "tiny" and header.fingerprint == model.fingerprint.hex()
  assert header.file_size == len(rgb_file)
  assert header.bpp == pytest.approx(8 * len(rgb_file) / 600)
  [(what, size)] = header.payload_sizes
  assert what == "latents" and 0 < size < len(rgb_file) - 40
  with pytest.raises(dataclasses.FrozenInstanceError):
    header.width = 1
  assert compressor.read_header(bytearray(rgb_file)) == header


@pytest.mark.parametrize("image, message", [
    ("photo.png", "not str"),
    ([[1, 2], [3, 4]], "not list"),
    (np.zeros((4, 4, 3), np.float32), "float32"),
    (np.zeros((4, 4, 3), bool), "bool"),
    (np.zeros((4, 4, 5), np.uint8), "(4, 4, 5)"),
    (np.zeros((4, 4, 3, 1), np.uint8), "(4, 4, 3, 1)"),
    (np.zeros(16, np.uint8), "(16,)"),
    (np.zeros((0, 4, 3), np.uint8), "zero width or height"),
    (np.zeros((1, 70000), np.uint8), "at most 65535 pixels a side"),
])
def test_encode_refuses_what_is_no_image(model, image, message):
  with pytest.raises(ImageError, match=message.replace("(", r"\(").replace(")", r"\)")):
    compressor.encode(image, model=model)


def test_decode_refuses_bad_bytes(model, rgb_file):
  for data, message in [(rgb_file[:-1], "truncated"), (rgb_file[:12], "truncated"),
                        (b"", "empty"), (b"GIF89a" + bytes(60), "wrong magic"),
                        (rgb_file + b"\0", "too long"),
                        (rgb_file[:40] + bytes([rgb_file[40] ^ 1]) + rgb_file[41:], "checksum")]:
    with pytest.raises(BitstreamError, match=message):
      compressor.decode(data, model=model)
    with pytest.raises(BitstreamError, match=message):
      compressor.read_header(data)
  with pytest.raises(BitstreamError, match="not a path"):
    compressor.decode("photo.cmpr")
  with pytest.raises(BitstreamError, match="not int"):
    compressor.read_header(7)


def test_unknown_and_wrong_models(model, rgb_file, monkeypatch):
  with pytest.raises(ModelError, match="'no-such-model' is neither a model directory"):
    compressor.load_model("no-such-model")
  with pytest.raises(ModelError, match="no-such-model"):
    compressor.encode(random_image(8, 8), model="no-such-model")
  with pytest.raises(ModelError, match="not int"):
    compressor.encode(random_image(8, 8), model=42)
  with pytest.raises(ModelError, match="quality"):
    compressor.encode(random_image(8, 8), model=model, quality=1)
  # Another model: refused by fingerprint, with the message decompress prints.
  with pytest.raises(ModelError, match="not by the given model"):
    compressor.decode(rgb_file, model=next(iter(bundled_models())))
  # A file whose model is installed nowhere.
  header, payloads = container.unpack(rgb_file)
  orphan = container.pack(dataclasses.replace(header, fingerprint=bytes(16)), payloads)
  monkeypatch.setenv("COMPRESSOR_MODEL_PATH", "")
  with pytest.raises(ModelError, match="which is not installed"):
    compressor.decode(orphan)


def test_decode_finds_the_model_by_fingerprint(model, seeded_model_dir, rgb_file, monkeypatch):
  monkeypatch.setenv("COMPRESSOR_MODEL_PATH", os.path.dirname(seeded_model_dir))
  np.testing.assert_array_equal(np.asarray(compressor.decode(rgb_file)),
                                np.asarray(compressor.decode(rgb_file, model=model)))


def test_target_bpp(seeded_model_dir):
  pixels = random_image(16, 16)
  with warnings.catch_warnings():
    warnings.simplefilter("error", compressor.CompressorWarning)
    roomy = compressor.encode(pixels, model=[seeded_model_dir], target_bpp=1000)
  with pytest.warns(compressor.CompressorWarning, match="nothing fits in 0.01 bpp; tiny"):
    tight = compressor.encode(pixels, model=[seeded_model_dir], target_bpp=0.01)
  assert roomy == tight  # one level: the smallest file there is, either way
  with pytest.raises(ModelError, match="needs a bundled model family"):
    compressor.encode(pixels, model=seeded_model_dir, target_bpp=1)
  with pytest.raises(CompressorError, match="alternatives"):
    compressor.encode(pixels, quality=1, target_bpp=1)


def test_effort(model):
  pixels = random_image(32, 32)
  data = compressor.encode(pixels, model=model, effort=1)
  assert compressor.decode(data, model=model).size == (32, 32)
  with pytest.raises(CompressorError, match="effort 9"):
    compressor.encode(pixels, model=model, effort=9)


def test_model_lookup_by_fingerprint(seeded_model_dir, model):
  search = [os.path.dirname(seeded_model_dir)]
  assert api.find_model_dir(model.fingerprint, search) == store.find_model(model.fingerprint,
                                                                            search)
  assert api.find_model_dir(model.fingerprint, search) == seeded_model_dir
  assert api.find_model_dir(bytes(16), search) is None


def python(code, *args):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
  return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True,
                        text=True, env=env, timeout=120, cwd=ROOT)


def test_import_and_read_header_do_not_load_tensorflow(rgb_file, tmp_path):
  (tmp_path / "a.cmpr").write_bytes(rgb_file)
  result = python(
      "import sys, compressor\n"
      "heavy = lambda: sorted({'numpy', 'PIL', 'tensorflow'} & set(sys.modules))\n"
      "print(heavy())\n"
      "compressor.read_header(open(sys.argv[1], 'rb').read())\n"
      "print(heavy())\n", tmp_path / "a.cmpr")
  assert result.returncode == 0, result.stderr
  assert result.stdout.split("\n")[:2] == ["[]", "[]"]


def info(*args):
  return python("import sys; from compressor.cli import main\n"
                "try:\n  main(['compressor', 'info'] + sys.argv[1:])\n"
                "finally:\n  print('tensorflow' in sys.modules)", *args)


def test_info(model, seeded_model_dir, tmp_path):
  path = tmp_path / "a.cmpr"
  data = compressor.encode(np.dstack([random_image(20, 30), np.zeros((20, 30), np.uint8)]),
                           model=model)
  path.write_bytes(data)
  result = info("--model_path", os.path.dirname(seeded_model_dir), path)
  assert result.returncode == 0, result.stderr
  lines = result.stdout.splitlines()
  assert lines[0] == f"{path}: 30x20 RGBA, {len(data)} bytes, {8 * len(data) / 600:.4f} bpp"
  assert lines[1] == (f"  model: tiny, fingerprint {model.fingerprint.hex()}, "
                      f"installed in {seeded_model_dir}")
  header = compressor.read_header(data)
  sizes = dict(header.payload_sizes)
  assert lines[2] == f"  latents: {sizes['latents']} bytes, {8 * sizes['latents'] / 600:.4f} bpp"
  assert lines[3].startswith(f"  alpha: {sizes['alpha']} bytes")
  assert lines[4] == f"  header and checksum: {len(data) - sum(sizes.values())} bytes"
  assert lines[5] == "False"  # the header alone: TensorFlow never loaded
  result = info(path)  # no --model_path: the seeded model is nowhere else
  assert "not installed" in result.stdout.splitlines()[1]


def test_info_bad_files(rgb_file, tmp_path):
  good, bad = tmp_path / "good.cmpr", tmp_path / "bad.cmpr"
  good.write_bytes(rgb_file)
  bad.write_bytes(rgb_file[:-3])
  result = info(bad)
  assert result.returncode == 1
  assert result.stderr.strip().splitlines() == [
      (f"compressor info: error: {bad}: file is truncated: header announces "
       f"{len(rgb_file)} bytes, the file has {len(rgb_file) - 3}")]
  # A bad file among good ones: the good are described, the status is still 1.
  result = info(tmp_path / "missing.cmpr", good)
  assert result.returncode == 1
  assert result.stdout.startswith(f"{good}: 30x20 RGB")
  missing = tmp_path / "missing.cmpr"
  assert result.stderr.strip() == f"compressor info: error: {missing}: no such file"


def test_info_into_a_closed_pipe_stops_quietly(rgb_file, tmp_path):
  path = tmp_path / "a.cmpr"
  path.write_bytes(rgb_file)
  # As `compressor info *.cmpr | head -1`: the reader leaves after the first line.
  process = subprocess.Popen(command_line("info", *[path] * 2000), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True,
                             env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
  assert process.stdout.readline().startswith(f"{path}: 30x20 RGB")
  process.stdout.close()
  stderr = process.stderr.read()
  assert process.wait(timeout=120) == -signal.SIGPIPE
  assert "Traceback" not in stderr and "BrokenPipeError" not in stderr
