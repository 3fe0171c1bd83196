"""Every image or compressed file directly in a folder, coded with one model, with progress."""

import dataclasses
import os
import time

from PIL import Image

from compressor.coding import refinement
from compressor.coding.codec import (
  EXTENSION,
  CodingStats,
  compress_file,
  decompress_file,
  default_compressed_path,
  default_decompressed_path,
)
from compressor.coding.images import DEFAULT_MAX_PIXELS
from compressor.errors import CompressorError
from compressor.fileio import check_output_path
from compressor.nn.tiling import DEFAULT_TILE_SIZE
from compressor.progress import Pace

__all__ = ["FolderItem", "compress_folder", "decompress_folder"]


@dataclasses.dataclass
class FolderItem:
  """One file of a folder run: its CodingStats or the error that stopped it, and the pace."""

  index: int  # from 1
  total: int
  input_path: str
  output_path: str
  stats: CodingStats = None
  error: str = None
  elapsed: float = 0.0  # seconds since the folder's first file started

  @property
  def _pace(self):
    return Pace(self.total, start=0.0)

  @property
  def files_per_second(self):
    return self._pace.rate(self.index, now=self.elapsed)

  @property
  def eta(self):
    """Seconds until the last file is done, at the pace so far."""
    return self._pace.eta(self.index, now=self.elapsed)


def _is_image_name(name):
  extension = os.path.splitext(name)[1].lower()
  # Compressed files are never inputs, even where the Pillow plugin reads them.
  return extension != EXTENSION and Image.registered_extensions().get(extension) in Image.OPEN


def _folder_plan(input_dir, wanted, what, output_dir, output_name, overwrite):
  """[(input, output)] for the files directly in `input_dir` whose names are `wanted`.

  The whole run is refused here, before anything is coded, if any output
  cannot be written.
  """
  if not os.path.isdir(input_dir):
    raise CompressorError(f"{input_dir} is not a directory")
  # Hidden files include the temporary outputs of a run in progress.
  inputs = [os.path.join(input_dir, name) for name in sorted(os.listdir(input_dir))
            if not name.startswith(".") and wanted(name)
            and os.path.isfile(os.path.join(input_dir, name))]
  if not inputs:
    raise CompressorError(f"no {what} in {input_dir}")
  if os.path.exists(output_dir) and not os.path.isdir(output_dir):
    raise CompressorError(f"output {output_dir} is not a directory")
  parent = os.path.dirname(os.path.abspath(output_dir))
  if not os.path.exists(output_dir) and not os.path.isdir(parent):
    raise CompressorError(f"output directory {parent} does not exist")
  plan, sources = [], {}
  for path in inputs:
    output = os.path.join(output_dir, output_name(os.path.basename(path)))
    if output in sources:
      raise CompressorError(f"{sources[output]} and {path} would both be written to {output}")
    sources[output] = path
    plan.append((path, output))
  existing = [output for _, output in plan if os.path.lexists(output)]
  if existing and not overwrite:
    more = f", and {len(existing) - 1} more" if len(existing) > 1 else ""
    raise CompressorError(f"output {existing[0]} exists{more}; pass --overwrite to replace "
                          + ("them" if more else "it"))
  if os.path.isdir(output_dir):
    for path, output in plan:
      check_output_path(output, overwrite, inputs=[path])
  return plan


def _code_folder(plan, output_dir, code, progress):
  """Runs code(input, output) on every pair; a CompressorError fails only its own file."""
  os.makedirs(output_dir, exist_ok=True)
  items, start = [], time.monotonic()
  for index, (path, output) in enumerate(plan, 1):
    try:
      stats, error = code(path, output), None
    except CompressorError as e:
      stats, error = None, str(e)
    item = FolderItem(index, len(plan), path, output, stats, error, time.monotonic() - start)
    items.append(item)
    if progress is not None:
      progress(item)
  return items


def compress_folder(model, input_dir, output_dir=None, overwrite=False,
                    max_pixels=DEFAULT_MAX_PIXELS, target_bpp=None, progress=None,
                    tile_size=DEFAULT_TILE_SIZE, effort=0):
  """Compresses every image file directly in `input_dir`; returns a FolderItem per file.

  Image files are those whose extension Pillow opens. Outputs are named as
  compress_file names them, in `output_dir` (default: `input_dir`; created if
  missing). Every output path is checked before the first image is coded, so
  an existing output (without `overwrite`) refuses the whole run. An image
  that fails is recorded in its item and the others go on. `progress(item)`
  is called after every file. `model` and `target_bpp` are as for
  compress_file (with a target, each level is loaded once for the whole
  folder). `effort` is as for compress_file.
  """
  refinement.check_effort(effort)
  output_dir = output_dir or input_dir
  plan = _folder_plan(input_dir, _is_image_name, "image files", output_dir,
                      default_compressed_path, overwrite)
  return _code_folder(plan, output_dir, lambda path, output: compress_file(
      model, path, output, overwrite, max_pixels, target_bpp, tile_size, effort), progress)


def decompress_folder(model, input_dir, output_dir=None, overwrite=False,
                      max_pixels=DEFAULT_MAX_PIXELS, progress=None, tile_size=DEFAULT_TILE_SIZE):
  """Decompresses every .cmpr file directly in `input_dir`; returns a FolderItem per file.

  As compress_folder, with outputs named as decompress_file names them.
  `model` is a loaded model, or a store.ModelFinder, which loads each model
  the files name once.
  """
  output_dir = output_dir or input_dir
  plan = _folder_plan(input_dir, lambda name: name.endswith(EXTENSION), f"{EXTENSION} files",
                      output_dir, lambda name: os.path.basename(default_decompressed_path(name)),
                      overwrite)
  return _code_folder(plan, output_dir, lambda path, output: decompress_file(
      model, path, output, overwrite, max_pixels, tile_size), progress)
