"""What every subcommand shares: running under absl and one-line errors."""

import functools
import sys

from absl import app, flags

from compressor.errors import CompressorError
from compressor.images import DEFAULT_MAX_PIXELS

__all__ = ["define_output_flags", "describe", "no_positional", "positional", "user_errors"]


def user_errors(main):
  """Turns a CompressorError into `PROGRAM: error: message` and exit status 1."""
  @functools.wraps(main)
  def wrapper(argv):
    try:
      return main(argv)
    except CompressorError as e:
      print(f"{argv[0]}: error: {e}", file=sys.stderr)
      sys.exit(1)
  return wrapper


def define_output_flags():
  """--overwrite and --max_pixels, shared by the commands that write one file."""
  flags.DEFINE_bool("overwrite", False, "Replace OUTPUT if it exists.")
  flags.DEFINE_integer("max_pixels", DEFAULT_MAX_PIXELS,
                       "Refuse larger images (memory grows with the pixel count).")


def no_positional(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")


def positional(argv, names, required):
  """Splits argv[1:] into up to len(names) positional arguments."""
  args = argv[1:]
  if len(args) < required or len(args) > len(names):
    raise app.UsageError(
        f"expected {' '.join(names[:required])}"
        + "".join(f" [{n}]" for n in names[required:]) + f", got {len(args)} arguments")
  return args + [None] * (len(names) - len(args))


def describe(path_in, path_out, stats):
  return (f"{path_in} -> {path_out}: {stats.width}x{stats.height} {stats.layout}, "
          f"{stats.num_bytes} bytes, {stats.bpp:.4f} bpp")
