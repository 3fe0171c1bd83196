"""The decoder under fuzzing: any bytes must decode or fail with a CompressorError."""

import collections
import os
import struct
import sys
import time
import zlib

import numpy as np

from compressor.coding import container
from compressor.coding.codec import compress_image, decompress_bytes
from compressor.coding.images import DecodedImage
from compressor.errors import CompressorError

__all__ = [
    "FUZZ_MAX_PIXELS",
    "decode_untrusted",
    "repair_crc",
    "run_atheris",
    "seed_bitstreams",
]

# Keeps each decode small; the limit check itself is one of the paths under test.
FUZZ_MAX_PIXELS = 1 << 16


def repair_crc(data):
  """Rewrites the trailing CRC32 so that mutations reach the checks behind it."""
  if len(data) < container.MIN_SIZE:
    return data
  return data[:-4] + struct.pack(">I", zlib.crc32(data[:-4]))


class _Watched:
  """A model whose range decoding is counted: the input got past the container's checks."""

  def __init__(self, model):
    self.model, self.decodes = model, 0

  def __getattr__(self, name):
    return getattr(self.model, name)

  def decode(self, *args, **kwargs):
    self.decodes += 1
    return self.model.decode(*args, **kwargs)

  def decode_bands(self, *args, **kwargs):
    """What decompress_bytes calls: counted when it starts, as a generator starts late."""
    self.decodes += 1
    return self.model.decode_bands(*args, **kwargs)


def decode_untrusted(data, model, max_pixels=FUZZ_MAX_PIXELS, reached=None):
  """Returns "decoded" or the CompressorError class name; anything else propagates.

  A propagating exception (or a crash, or a hang) is a finding. With a
  Counter `reached`, reached["range decoder"] counts the inputs that got past
  every check before the range decoder.
  """
  watched = _Watched(model)
  try:
    image = decompress_bytes(data, watched, max_pixels)
  except CompressorError as e:
    return type(e).__name__
  finally:
    if reached is not None:
      reached["range decoder"] += watched.decodes
  header, _ = container.unpack(data)
  if image.pixels.shape[:2] != (header.height, header.width):
    raise AssertionError(f"decoded {image.pixels.shape}, header says "
                         f"{header.height}x{header.width}")
  return "decoded"


def seed_bitstreams(model):
  """Valid files in every layout and a few sizes, the fuzzer's starting corpus."""
  rng = np.random.default_rng(0)
  seeds = []
  for height, width, layout in ((16, 16, "RGB"), (33, 17, "RGB"), (8, 40, "L"),
                                (20, 24, "RGBA"), (5, 3, "LA")):
    channels = len(layout)
    pixels = rng.integers(0, 256, (height, width, channels), dtype=np.uint8)
    seeds.append(compress_image(model, DecodedImage(pixels, layout)))
  return seeds


def run_atheris(model, runs, corpus_dir, timeout=30, max_len=4096):
  """Coverage-guided fuzzing of the decoder with atheris for `runs` inputs.

  The first byte of each input chooses whether the CRC is repaired, so that
  half of the mutations get past the checksum to the checks behind it.
  Prints a tally of outcomes every 10,000 inputs and at the end, with how
  many inputs reached the range decoder and the slowest input. An input that
  raises anything but a CompressorError, or that runs longer than `timeout`
  seconds, stops the run and is saved by libFuzzer (crash-* or timeout-*).
  """
  import atheris  # A development tool: pip install 'compressor[fuzz]'.
  os.makedirs(corpus_dir, exist_ok=True)
  for i, seed in enumerate(seed_bitstreams(model)):
    with open(os.path.join(corpus_dir, f"seed-{i}"), "wb") as f:
      f.write(b"\1" + seed)
  outcomes, reached = collections.Counter(), collections.Counter()
  slowest = [0.0]
  start = time.monotonic()

  def report():
    elapsed = time.monotonic() - start
    tried = sum(outcomes.values())
    print(f"fuzz: {tried} inputs in {elapsed:.0f} s ({tried / max(elapsed, 1e-9):.0f}/s); "
          f"outcomes {dict(sorted(outcomes.items()))}; {reached['crc repaired']} with the "
          f"CRC repaired; {reached['range decoder']} reached the range decoder; slowest "
          f"{slowest[0]:.2f} s; 0 over the {timeout} s time limit (the first would stop "
          "the run as timeout-*)", flush=True)

  def one_input(data):
    body = data[1:]
    if data[:1] and data[0] & 1:
      body = repair_crc(body)
      reached["crc repaired"] += 1
    began = time.monotonic()
    outcomes[decode_untrusted(body, model, reached=reached)] += 1
    slowest[0] = max(slowest[0], time.monotonic() - began)
    tried = sum(outcomes.values())
    if tried % 10000 == 0 or tried == runs:
      report()

  atheris.Setup([sys.argv[0], f"-runs={runs}", f"-max_len={max_len}", f"-timeout={timeout}",
                 corpus_dir], one_input)
  atheris.Fuzz()
