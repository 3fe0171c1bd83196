"""What every subcommand shares: running under absl and one-line errors."""

import functools
import sys

from absl import app

from compressor.errors import CompressorError

__all__ = ["user_errors", "positional", "describe"]


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
