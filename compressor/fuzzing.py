"""The decoder under fuzzing: any bytes must decode or fail with a CompressorError."""

import collections
import os
import struct
import sys
import time
import zlib

import numpy as np

from compressor import container
from compressor.codec import compress_image, decompress_bytes
from compressor.errors import CompressorError
from compressor.images import DecodedImage

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


def decode_untrusted(data, model, max_pixels=FUZZ_MAX_PIXELS):
  """Returns "decoded" or the CompressorError class name; anything else propagates.

  A propagating exception (or a crash, or a hang) is a finding.
  """
  try:
    image = decompress_bytes(data, model, max_pixels)
  except CompressorError as e:
    return type(e).__name__
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


def run_atheris(model, runs, corpus_dir):
  """Coverage-guided fuzzing of the decoder with atheris for `runs` inputs.

  The first byte of each input chooses whether the CRC is repaired, so that
  half of the mutations get past the checksum to the checks behind it.
  Prints a tally of outcomes every 10,000 inputs and at the end; an input that
  raises anything but a CompressorError stops the run and is saved by libFuzzer.
  """
  import atheris  # A development tool: pip install 'compressor[fuzz]'.
  os.makedirs(corpus_dir, exist_ok=True)
  for i, seed in enumerate(seed_bitstreams(model)):
    with open(os.path.join(corpus_dir, f"seed-{i}"), "wb") as f:
      f.write(b"\1" + seed)
  outcomes = collections.Counter()
  start = time.monotonic()

  def report():
    elapsed = time.monotonic() - start
    tried = sum(outcomes.values())
    print(f"fuzz: {tried} inputs in {elapsed:.0f} s ({tried / max(elapsed, 1e-9):.0f}/s); "
          f"outcomes {dict(sorted(outcomes.items()))}", flush=True)

  def one_input(data):
    body = data[1:]
    if data[:1] and data[0] & 1:
      body = repair_crc(body)
    outcomes[decode_untrusted(body, model)] += 1
    tried = sum(outcomes.values())
    if tried % 10000 == 0 or tried == runs:
      report()

  atheris.Setup([sys.argv[0], f"-runs={runs}", "-max_len=4096", corpus_dir], one_input)
  atheris.Fuzz()
