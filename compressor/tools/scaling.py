"""How time and peak memory of coding grow with the image: each run in a fresh process."""

import collections
import math
import os
import subprocess
import sys
import time

import numpy as np
from PIL import Image

from compressor.cli import command_line
from compressor.coding.container import bits_per_pixel
from compressor.errors import CompressorError

__all__ = [
    "CommandRun",
    "make_large_photo",
    "measure_command",
    "measure_sizes",
    "mirrored_to_size",
]


def mirrored_to_size(photo, width, height):
  """`photo` mirrored out (and cropped) to width x height: real content at its own scale.

  Mirroring keeps the seams continuous, so the result codes like a photo
  rather than like noise or flat colour.
  """
  pad = ((0, max(0, height - photo.shape[0])), (0, max(0, width - photo.shape[1])), (0, 0))
  return np.ascontiguousarray(np.pad(photo, pad, mode="symmetric")[:height, :width])


def make_large_photo(path, megapixels, source):
  """Writes a 4:3 photo of about `megapixels` MP, `source` mirrored out; returns its size."""
  side = math.sqrt(megapixels * 1e6)
  width, height = int(round(side * 4 / 3)), int(round(side * 3 / 4))
  # Fast zlib level: the benchmark measures the codec, not PNG writing.
  Image.fromarray(mirrored_to_size(source, width, height)).save(path, compress_level=1)
  return width, height


CommandRun = collections.namedtuple("CommandRun", ["seconds", "peak_bytes", "cpu_seconds"])
CommandRun.__doc__ = "Wall seconds, peak resident memory and user + system CPU seconds of a run."

# Runs a command and prints its peak RSS and CPU time. A child forked from a large process
# (pytest, with TensorFlow loaded) reports the parent's pages as its own peak,
# so the command is started from this small process instead.
_PROBE = ("import os, subprocess, sys\n"
          "child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)\n"
          "_, status, usage = os.wait4(child.pid, 0)\n"
          "print(usage.ru_maxrss, usage.ru_utime + usage.ru_stime)\n"
          "sys.exit(os.waitstatus_to_exitcode(status))\n")


def measure_command(command, env=None, cwd=None):
  """The CommandRun of a command run to completion (memory in bytes).

  `env` adds to (or overrides) this process's environment; `cwd` is the
  command's working directory. A failing command raises CompressorError with
  its last line of stderr.
  """
  start = time.monotonic()
  result = subprocess.run([sys.executable, "-c", _PROBE, *command], capture_output=True,
                          text=True, cwd=cwd,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **(env or {})))
  seconds = time.monotonic() - start
  if result.returncode != 0:
    lines = result.stderr.strip().splitlines() or ["no output"]
    raise CompressorError(f"{' '.join(command)} failed: {lines[-1]}")
  peak_kilobytes, cpu_seconds = result.stdout.split()[-2:]  # Linux reports kilobytes.
  return CommandRun(seconds, int(peak_kilobytes) * 1024, float(cpu_seconds))


def measure_sizes(megapixel_sizes, source, work_dir, model=None, tile_size=None,
                  untiled_up_to=0.0, log=print):
  """Compresses and decompresses a photo of each size with the CLI; returns one row per run.

  Runs without tiles too (tile size 0) for sizes up to `untiled_up_to` MP,
  to show what tiling saves. Every run is a fresh process, so each peak
  memory figure is that run's own.
  """
  os.makedirs(work_dir, exist_ok=True)
  model_flags = [] if model is None else ["--model", model]
  rows = []
  for megapixels in megapixel_sizes:
    image = os.path.join(work_dir, f"photo-{megapixels:g}mp.png")
    width, height = make_large_photo(image, megapixels, source)
    pixels = width * height
    tilings = [tile_size] + ([0] if megapixels <= untiled_up_to else [])
    for tiles in tilings:
      tile_flags = [] if tiles is None else ["--tile_size", str(tiles)]
      common = ["--overwrite", "--max_pixels", str(pixels), *model_flags, *tile_flags]
      coded, decoded = image + ".cmpr", image + ".decoded.png"
      encode_seconds, encode_memory, _ = measure_command(
          command_line("compress", *common, image, coded))
      decode_seconds, decode_memory, _ = measure_command(
          command_line("decompress", *common, coded, decoded))
      row = {"megapixels": pixels / 1e6, "width": width, "height": height,
             "tiled": tiles != 0, "bpp": bits_per_pixel(os.path.getsize(coded), width, height),
             "encode_seconds": encode_seconds, "encode_peak_bytes": encode_memory,
             "decode_seconds": decode_seconds, "decode_peak_bytes": decode_memory}
      rows.append(row)
      log(f"{row['megapixels']:7.1f} MP {'tiled' if row['tiled'] else 'whole':5}  "
          f"encode {encode_seconds:7.1f} s {encode_memory / 2**30:5.2f} GiB  "
          f"decode {decode_seconds:7.1f} s {decode_memory / 2**30:5.2f} GiB")
      for path in (coded, decoded):
        os.remove(path)
    os.remove(image)
  return rows

