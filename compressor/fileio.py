"""Safe output files: written to a temporary file, then moved into place."""

import contextlib
import os
import tempfile

from compressor.errors import CompressorError

__all__ = ["check_output_path", "write_atomically", "write_text_atomically"]


def check_output_path(path, overwrite, inputs=()):
  """Fails early if writing `path` would clobber an input or an existing file."""
  path = os.path.abspath(path)
  for source in inputs:
    if os.path.exists(source) and os.path.exists(path) and os.path.samefile(source, path):
      raise CompressorError(f"refusing to overwrite the input file {source}")
  if os.path.isdir(path):
    raise CompressorError(f"output {path} is a directory")
  if os.path.exists(path) and not overwrite:
    raise CompressorError(f"output {path} exists; pass --overwrite to replace it")
  parent = os.path.dirname(path)
  if not os.path.isdir(parent):
    raise CompressorError(f"output directory {parent} does not exist")


def _new_file_mode():
  """0666 less the process's umask: the mode of a file that open() creates."""
  umask = os.umask(0o022)  # The umask can only be read by setting it; restored at once.
  os.umask(umask)
  return 0o666 & ~umask


def write_atomically(path, write, overwrite):
  """Calls write(file) on a temporary file next to `path`, then renames it.

  Without `overwrite`, the final step is a hard link, which fails instead of
  replacing a file that appeared meanwhile (e.g. from a parallel process).
  A failure at any point leaves no partial output behind.
  """
  path = os.path.abspath(path)
  fd, temp = tempfile.mkstemp(
      dir=os.path.dirname(path), prefix="." + os.path.basename(path) + ".", suffix=".tmp")
  try:
    # mkstemp makes the file private (0600); the output gets the mode that open()
    # would give a new file, as other tools' outputs do.
    os.chmod(temp, _new_file_mode())
    with os.fdopen(fd, "wb") as f:
      write(f)
      f.flush()
      os.fsync(f.fileno())
    if overwrite:
      os.replace(temp, path)
    else:
      try:
        os.link(temp, path)
      except FileExistsError:
        raise CompressorError(
            f"output {path} exists; pass --overwrite to replace it") from None
  finally:
    with contextlib.suppress(FileNotFoundError):
      os.unlink(temp)


def write_text_atomically(path, text):
  """Replaces `path` with `text` (UTF-8) in one rename: readers see the old or the new file."""
  write_atomically(path, lambda f: f.write(text.encode()), overwrite=True)
