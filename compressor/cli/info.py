"""`compressor info FILE...`: what a compressed file's header says, without decoding it."""

import sys

from absl import app, flags

from compressor.api import find_model_dir, read_header
from compressor.cli.common import user_errors
from compressor.coding.container import bits_per_pixel
from compressor.errors import BitstreamError, CompressorError

__all__ = ["describe_file", "main", "run"]

flags.DEFINE_list("model_path", [], "Directories holding model directories, searched as "
                  "`compressor decompress` searches them.")
FLAGS = flags.FLAGS


def _read(path):
  try:
    with open(path, "rb") as f:
      return f.read()
  except FileNotFoundError:
    raise CompressorError(f"{path}: no such file") from None
  except IsADirectoryError:
    raise CompressorError(f"{path} is a directory, not a compressed file") from None
  except OSError as e:
    raise CompressorError(f"{path}: cannot read ({e.strerror})") from None


def describe_file(path, model_path=()):
  """The lines `compressor info` prints for one file; raises CompressorError."""
  data = _read(path)
  try:
    header = read_header(data)
  except BitstreamError as e:
    raise BitstreamError(f"{path}: {e}") from None
  installed = find_model_dir(header.fingerprint, model_path)
  where = (f"installed in {installed}" if installed
           else "not installed (decompress needs --model or --model_path)")
  lines = [(f"{path}: {header.width}x{header.height} {header.layout}, "
            f"{header.file_size} bytes, {header.bpp:.4f} bpp"),
           (f"  model: {header.model_name or '(unnamed)'}, fingerprint {header.fingerprint}, "
            f"{where}")]
  payload_bytes = 0
  for what, size in header.payload_sizes:
    bpp = bits_per_pixel(size, header.width, header.height)
    lines.append(f"  {what}: {size} bytes, {bpp:.4f} bpp")
    payload_bytes += size
  lines.append(f"  header and checksum: {header.file_size - payload_bytes} bytes")
  return lines


@user_errors
def main(argv):
  paths = argv[1:]
  if not paths:
    raise app.UsageError("expected FILE [FILE...]")
  failed = 0
  for path in paths:
    try:
      print("\n".join(describe_file(path, FLAGS.model_path)), flush=True)
    except CompressorError as e:
      # One line per bad file, as every command reports an error; the others go on.
      print(f"{argv[0]}: error: {e}", file=sys.stderr, flush=True)
      failed += 1
  if failed:
    sys.exit(1)


def run(argv):
  app.run(main, argv=argv)
