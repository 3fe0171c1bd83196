"""Crafted files that once hung the range decoder (issue 22) must decode or fail, in time.

Past the end of its input TFC's range decoder reads zeros, on which the prefix of
an escape code never ends. The files here are made by the test itself from a seeded
model: payload bytes replaced, truncated or random, with the CRC repaired, and
streams built to be escape codes from end to end. Each is decoded in a subprocess,
so that a decoder that hangs again fails the test instead of stalling the suite.
"""

import dataclasses
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_compression as tfc

from compressor.coding import container
from compressor.coding.codec import compress_image, decompress_bytes
from compressor.coding.images import DecodedImage
from compressor.coding.store import load_model
from compressor.training.trainer import TrainingConfig, train
from conftest import TINY, photo

# Generous: each of these files decodes or is refused in well under a second.
SECONDS_PER_FILE = 30
# Start-up of the subprocess (importing TensorFlow, loading the model).
STARTUP_SECONDS = 60

DECODE_ALL = textwrap.dedent("""
    import os, sys, time
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from compressor.coding.codec import decompress_bytes
    from compressor.errors import CompressorError
    from compressor.coding.store import load_model
    model = load_model(sys.argv[1])
    for path in sys.argv[2:]:
      began = time.monotonic()
      try:
        decompress_bytes(open(path, "rb").read(), model)
        outcome = "decoded"
      except CompressorError as e:
        outcome = f"{type(e).__name__}: {e}"
      print(f"{os.path.basename(path)}\\t{time.monotonic() - began:.3f}\\t{outcome}", flush=True)
""")


def escape_stream(coder, shape, rng, magnitude):
  """A payload in which every value is out of a factorized coder's range: all escape codes."""
  symbols = rng.integers(-magnitude, magnitude, (1,) + tuple(shape), dtype=np.int32)
  handle = tfc.entropy_encode_channel(tfc.create_range_encoder([1], coder.cdf),
                                      tf.constant(symbols))
  return bytes(tfc.entropy_encode_finalize(handle).numpy()[0])


def escape_edge(coder):
  """4 bytes on which a factorized coder's first value is an escape code, then zeros.

  The decoder starts with the interval [0, 2^32) and these bytes as its value:
  the lower edge of channel 0's escape bin. After that symbol the value sits at
  the bottom of the interval, so on zeros the escape's prefix never ends.
  """
  cdf = coder.cdf.numpy()
  precision = -int(cdf[0])
  end = 1 + int(np.argmax(cdf[1:] == 1 << precision))  # Channel 0's row ends there.
  return (int(cdf[end - 1]) << (32 - precision)).to_bytes(4, "big")


def corrupted(payload, coder, shape, rng):
  """{name: payload}: crafted variants of one valid payload."""
  payloads = {}
  for i in range(6):
    # The kind that hung: 64 payload bytes replaced (in a run or scattered).
    edited = bytearray(payload)
    at = rng.integers(0, max(len(edited) - 64, 1))
    edited[at:at + 64] = rng.integers(0, 256, 64, dtype=np.uint8).tobytes()
    payloads[f"replaced-run-{i}"] = bytes(edited[:len(payload)])
    edited = bytearray(payload)
    for at in rng.integers(0, len(edited), 64):
      edited[at] = rng.integers(0, 256)
    payloads[f"replaced-scattered-{i}"] = bytes(edited)
    payloads[f"truncated-{i}"] = payload[:rng.integers(0, len(payload))]
    payloads[f"random-{i}"] = rng.integers(0, 256, rng.integers(1, 2 * len(payload)),
                                           dtype=np.uint8).tobytes()
  if coder.cdf.shape.rank == 1:  # A factorized coder, whose escapes are easy to aim at.
    for i, magnitude in enumerate((2**4, 2**12, 2**20)):
      escapes = escape_stream(coder, shape, rng, magnitude)
      payloads[f"escapes-{i}"] = escapes
      payloads[f"escapes-truncated-{i}"] = escapes[:len(escapes) // 3]
      payloads[f"escapes-tail-zeroed-{i}"] = escapes[:len(escapes) // 2] + bytes(64)
    edge = escape_edge(coder)
    payloads["escape-edge"] = edge
    payloads["escape-edge-zeros"] = edge + bytes(len(payload))
    payloads["escape-edge-in-valid"] = edge + payload[4:]
  payloads["empty"] = b""
  payloads["zeros"] = bytes(len(payload))
  payloads["ones"] = b"\xff" * len(payload)
  return payloads


def crafted_files(model):
  """{name: file bytes}, every one with a valid CRC and header, each with one payload crafted."""
  image = DecodedImage(np.ascontiguousarray(photo("astronaut")[::2, ::2]), "RGB")
  header, payloads = container.unpack(compress_image(model, image))
  names = ["side", "latents"] if len(payloads) == 2 else ["latents"]
  rng = np.random.default_rng(22)
  files = {}
  for k, name in enumerate(names):
    for what, payload in corrupted(payloads[k], model.coders[name], header.coded_shapes[k],
                                   rng).items():
      files[f"{name}-{what}"] = container.pack(
          header, payloads[:k] + [payload] + payloads[k + 1:])
  return files


@pytest.fixture(scope="module", params=["factorized", "hyperprior", "mean-scale-hyperprior"])
def model_dir(request, tmp_path_factory, photo_dir):
  """A model of each architecture exported from a fixed seed before any step."""
  directory = str(tmp_path_factory.mktemp("seeded") / request.param)
  train(directory, dataclasses.replace(TINY, architecture=request.param),
        TrainingConfig(train_glob=str(photo_dir / "*.png"), steps=0, seed=0), name="tiny")
  return directory


@pytest.fixture(scope="module")
def model(model_dir):
  return load_model(model_dir)


def test_crafted_files_decode_or_fail_in_time(model_dir, model, tmp_path):
  files = crafted_files(model)
  paths = []
  for name, data in files.items():
    paths.append(str(tmp_path / f"{name}.cmpr"))
    with open(paths[-1], "wb") as f:
      f.write(data)
  try:
    done = subprocess.run([sys.executable, "-c", DECODE_ALL, model_dir] + paths,
                          capture_output=True, text=True, check=True,
                          timeout=STARTUP_SECONDS + SECONDS_PER_FILE * len(paths))
  except subprocess.TimeoutExpired as e:
    output = e.stdout.decode() if isinstance(e.stdout, bytes) else e.stdout or ""
    pytest.fail(f"the decoder hung on {os.path.basename(paths[output.count(chr(10))])}")
  lines = done.stdout.splitlines()
  assert len(lines) == len(paths), done.stderr
  outcomes = {}
  for line in lines:
    name, seconds, outcome = line.split("\t")
    assert float(seconds) < SECONDS_PER_FILE, line
    assert outcome == "decoded" or outcome.startswith(("BitstreamError: ", "ModelError: ")), \
        line
    outcomes[name[:-len(".cmpr")]] = outcome
  if len(model.coded_shapes(1, 1)) == 1:
    # Escape codes from end to end are a valid stream, and decode.
    assert all(outcomes[f"latents-escapes-{i}"] == "decoded" for i in range(3)), outcomes
  # Most corrupt payloads are caught: they do not code what they decode to.
  refused = [n for n, o in outcomes.items() if "does not code the values" in o]
  assert len(refused) >= len(outcomes) // 2, outcomes


def test_escape_streams_decode_exactly(seeded_model_dir):
  """Decoding through the padding reproduces values that are escape codes, the largest too."""
  model = load_model(seeded_model_dir)
  shape = model.coded_shapes(64, 64)[0]
  coder = model.coders["latents"]
  for magnitude in (2**4, 2**20):
    payload = escape_stream(coder, shape, np.random.default_rng(magnitude), magnitude)
    symbols = np.random.default_rng(magnitude).integers(
        -magnitude, magnitude, (1,) + tuple(shape), dtype=np.int32)
    latents = model._range_decode([[payload]], [shape])  # pylint: disable=protected-access
    expected = symbols + coder.cdf_offset.numpy()
    offset = coder.quantization_offset
    if offset is not None:
      expected = expected + offset.numpy()
    np.testing.assert_array_equal(latents.numpy(), expected.astype(np.float32))


def test_valid_file_is_unchanged(model):
  """The padding is invisible to a valid file: the same pixels as the forward pass."""
  pixels = np.ascontiguousarray(photo("astronaut")[:96, :80])
  data = compress_image(model, DecodedImage(pixels, "RGB"))
  np.testing.assert_array_equal(decompress_bytes(data, model).pixels, model.reconstruct(pixels))
  # In tiles, the factorized model decodes and synthesizes its latents band by band.
  np.testing.assert_array_equal(decompress_bytes(data, model, tile_size=32).pixels,
                                model.reconstruct(pixels))
