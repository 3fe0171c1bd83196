"""What every subcommand shares: running under absl and one-line errors."""

import functools
import sys

from absl import app, flags

from compressor.coding.images import DEFAULT_MAX_PIXELS
from compressor.errors import CompressorError
from compressor.nn.tiling import DEFAULT_TILE_SIZE
from compressor.progress import format_duration

__all__ = [
    "check_folder_items",
    "define_output_flags",
    "describe",
    "no_positional",
    "positional",
    "tile_size",
    "print_folder_item",
    "user_errors",
]


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
  """--overwrite, --max_pixels and --tile_size, shared by compress and decompress."""
  flags.DEFINE_bool("overwrite", False, "Replace OUTPUT if it exists.")
  flags.DEFINE_integer("max_pixels", DEFAULT_MAX_PIXELS,
                       "Refuse larger images.")
  flags.DEFINE_integer("tile_size", DEFAULT_TILE_SIZE,
                       "Run the transforms in tiles of this many pixels a side on larger "
                       "images, in memory that does not grow with them (0: whole image, "
                       "about 0.5 kB a pixel to encode and 1.1 kB to decode). The file is the "
                       "same either way.", lower_bound=0)


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


def tile_size(value):
  """The --tile_size flag as the library takes it: None for whole images."""
  return value or None


def describe(path_in, path_out, stats):
  return (f"{path_in} -> {path_out}: {stats.width}x{stats.height} {stats.layout}, "
          f"{stats.num_bytes} bytes, {stats.bpp:.4f} bpp")


def print_folder_item(item):
  """The progress line of one file of a folder run (a codec.FolderItem)."""
  if item.error is None:
    result = describe(item.input_path, item.output_path, item.stats)
    result += "".join(f"; note: {note}" for note in item.stats.notes)
  else:
    result = f"{item.input_path}: error: {item.error}"
  # Flushed, so that a pipe or a log file shows the progress as it happens.
  print(f"[{item.index}/{item.total}] {result}  ({item.files_per_second:.2f} images/s, "
        f"ETA {format_duration(item.eta)})", flush=True)


def check_folder_items(items):
  """After a folder run: an error naming how many files failed, if any did."""
  failed = sum(item.error is not None for item in items)
  if failed:
    raise CompressorError(f"{failed} of {len(items)} files failed")
