"""Compressing images to bitstream files and back, with a loaded model."""

import dataclasses
import os
import time
import zlib

import numpy as np
import tensorflow as tf
from PIL import Image

from compressor import container, refinement
from compressor.errors import BitstreamError, CompressorError, ModelError
from compressor.fileio import check_output_path, write_atomically
from compressor.images import (
  DEFAULT_MAX_PIXELS,
  DecodedImage,
  check_pixel_limit,
  merge_alpha_rows,
  read_image,
  split_alpha,
  write_png_rows,
)
from compressor.store import find_model, load_model
from compressor.tiling import DEFAULT_TILE_SIZE

__all__ = [
    "CodingStats",
    "FolderItem",
    "compress_file",
    "compress_folder",
    "compress_image",
    "compress_to_target",
    "decompress_bytes",
    "decompress_file",
    "decompress_folder",
    "default_compressed_path",
    "default_decompressed_path",
]

EXTENSION = container.EXTENSION


@dataclasses.dataclass
class CodingStats:
  """What one compress or decompress did, for printing."""

  width: int
  height: int
  layout: str
  num_bytes: int
  notes: list = dataclasses.field(default_factory=list)

  @property
  def bpp(self):
    return 8.0 * self.num_bytes / (self.width * self.height)


def compress_image(model, image, tile_size=DEFAULT_TILE_SIZE, effort=0):
  """Encodes a DecodedImage to the bytes of a complete bitstream file.

  Images larger than `tile_size` pixels on a side (None: never) are analyzed in
  tiles; the file is the same up to float rounding. `effort` > 0 refines the
  latents for a smaller file at the same quality (see compressor.refinement);
  images coded in tiles are not refined.
  """
  rgb, alpha = split_alpha(image)
  payloads, coded_shapes = refinement.encode(model, rgb, effort, tile_size)
  if alpha is not None:
    payloads.append(zlib.compress(alpha.tobytes(), 9))
  header = container.Header(
      layout=image.layout, model_name=model.model_name or "", fingerprint=model.fingerprint,
      width=image.width, height=image.height, coded_shapes=coded_shapes)
  return container.pack(header, payloads)


def compress_to_target(models, image, target_bpp, tile_size=DEFAULT_TILE_SIZE, effort=0):
  """Codes `image` with the highest-rate model whose file fits in `target_bpp`.

  `models` (loaded models, or model directories loaded when first needed) go
  from low to high rate. File size grows with the level, so a binary search
  codes the image about log2(len(models)) + 1 times. When even the first model
  exceeds the target its file, the smallest there is, is returned. Returns
  (bytes, the model used). Every level is coded at `effort`, since refinement
  changes which levels fit.
  """
  refinement.check_effort(effort)
  if not models:
    raise ModelError("no models to choose from")
  num_pixels = image.width * image.height
  coded = {}
  def code(index):
    if index not in coded:
      model = models[index]
      model = load_model(model) if isinstance(model, (str, os.PathLike)) else model
      coded[index] = compress_image(model, image, tile_size, effort), model
    return coded[index]
  chosen, low, high = 0, 0, len(models) - 1
  while low <= high:
    middle = (low + high) // 2
    if 8.0 * len(code(middle)[0]) / num_pixels <= target_bpp:
      chosen, low = middle, middle + 1
    else:
      high = middle - 1
  return code(chosen)


def _check_model(model, header):
  if model.fingerprint != header.fingerprint:
    raise ModelError(
        f"the file was made by model {header.model_name!r} "
        f"(fingerprint {header.fingerprint.hex()}), not by the given model "
        f"{model.model_name!r} ({model.fingerprint.hex()})")
  expected = model.coded_shapes(header.height, header.width)
  if list(header.coded_shapes) != expected:
    raise BitstreamError(
        f"coded shapes {list(header.coded_shapes)} in the header do not fit a "
        f"{header.width}x{header.height} image under this model (expected {expected})")


def _open_bitstream(data, model, max_pixels):
  """(header, model, payloads) of a file's bytes, checked before anything is decoded."""
  header, payloads = container.unpack(data)
  check_pixel_limit(header.width, header.height, max_pixels, "the compressed image")
  if not isinstance(model, tf.keras.Model):
    model = model(header)
  _check_model(model, header)
  return header, model, payloads


def _alpha_rows(payload, header):
  """Yields blocks of the alpha plane's rows as the decoder asks: send(rows) -> rows x width.

  The plane is inflated a block at a time, and never past the image's size,
  so a crafted payload cannot inflate it further.
  """
  width, height = header.width, header.height
  inflater = zlib.decompressobj()
  data, top = payload, 0
  rows = yield None
  while top < height:
    wanted = min(rows, height - top) * width
    try:
      # Short only when the input has run out.
      block = inflater.decompress(data, wanted)
    except zlib.error as e:
      raise BitstreamError(f"alpha plane is corrupt ({e})") from None
    data = inflater.unconsumed_tail
    if len(block) < wanted:
      raise BitstreamError("alpha plane has the wrong size")
    top += wanted // width
    rows = yield np.frombuffer(block, np.uint8).reshape(-1, width)
  try:
    rest = inflater.decompress(data, 1) + inflater.flush()
  except zlib.error as e:
    raise BitstreamError(f"alpha plane is corrupt ({e})") from None
  if rest:
    raise BitstreamError("alpha plane has the wrong size")
  yield None


def _decoded_bands(header, model, payloads, tile_size):
  """Yields the output pixels (in the file's layout) in bands of rows, top to bottom.

  The last step checks that the payloads were whole (BitstreamError if not).
  """
  coded = len(header.coded_shapes)
  alpha = None
  if header.has_alpha:
    alpha = _alpha_rows(payloads[coded], header)
    next(alpha)
  # A corrupt payload is a BitstreamError from the model; any other exception
  # is a bug, and propagates so that tests and the fuzzer see it.
  for rgb in model.decode_bands(payloads[:coded], header.coded_shapes, header.height,
                                header.width, tile_size=tile_size):
    yield merge_alpha_rows(rgb, None if alpha is None else alpha.send(len(rgb)), header.layout)
  if alpha is not None:
    alpha.send(0)


def decompress_bytes(data, model, max_pixels=DEFAULT_MAX_PIXELS, tile_size=DEFAULT_TILE_SIZE):
  """Decodes a bitstream file's bytes with `model`, or a callable header -> model.

  Images larger than `tile_size` pixels on a side (None: never) are synthesized
  in tiles.
  """
  header, model, payloads = _open_bitstream(data, model, max_pixels)
  pixels = np.empty((header.height, header.width, len(header.layout)), np.uint8)
  top = 0
  for band in _decoded_bands(header, model, payloads, tile_size):
    pixels[top:top + len(band)] = band
    top += len(band)
  return DecodedImage(pixels, header.layout)


def default_compressed_path(input_path):
  return input_path + EXTENSION


def default_decompressed_path(input_path):
  """photo.png.cmpr -> photo.decoded.png: never the name of the original."""
  base = input_path[:-len(EXTENSION)] if input_path.endswith(EXTENSION) else input_path
  return os.path.splitext(base)[0] + ".decoded.png"


def compress_file(model, input_path, output_path=None, overwrite=False,
                  max_pixels=DEFAULT_MAX_PIXELS, target_bpp=None, tile_size=DEFAULT_TILE_SIZE,
                  effort=0):
  """Reads an image file, writes its bitstream; returns CodingStats.

  With `target_bpp`, `model` is a list of models from low to high rate and
  the file is made by the one `compress_to_target` picks (named in a note).
  `effort` is as for compress_image; a note says when it was lowered.
  """
  refinement.check_effort(effort)
  output_path = output_path or default_compressed_path(input_path)
  check_output_path(output_path, overwrite, inputs=[input_path])
  image = read_image(input_path, max_pixels)
  notes = list(image.notes)
  if target_bpp is None:
    data, chosen = compress_image(model, image, tile_size, effort), model
  else:
    data, chosen = compress_to_target(model, image, target_bpp, tile_size, effort)
    fits = 8.0 * len(data) / (image.width * image.height) <= target_bpp
    notes.append(f"{chosen.model_name} is the highest rate within {target_bpp} bpp" if fits
                 else f"nothing fits in {target_bpp} bpp; {chosen.model_name} makes the "
                 "smallest file")
  lowered = refinement.lowered_effort_note(chosen, image.height, image.width, tile_size, effort)
  if lowered is not None:
    notes.append(lowered)
  write_atomically(output_path, lambda f: f.write(data), overwrite)
  return CodingStats(image.width, image.height, image.layout, len(data), notes=notes)


def model_resolver(model_dir=None, search_path=()):
  """Returns header -> model: the given model directory, else one found by fingerprint."""
  def resolve(header):
    if model_dir is not None:
      return load_model(model_dir)
    found = find_model(header.fingerprint, search_path)
    if found is None:
      raise ModelError(
          f"the file was made by model {header.model_name!r} "
          f"(fingerprint {header.fingerprint.hex()}), which is not installed; "
          "pass --model DIR")
    return load_model(found)
  return resolve


def decompress_file(model, input_path, output_path=None, overwrite=False,
                    max_pixels=DEFAULT_MAX_PIXELS, tile_size=DEFAULT_TILE_SIZE):
  """Reads a bitstream file, writes the decoded PNG; returns CodingStats.

  `model` is a loaded model or a callable header -> model (see model_resolver).
  """
  output_path = output_path or default_decompressed_path(input_path)
  check_output_path(output_path, overwrite, inputs=[input_path])
  try:
    with open(input_path, "rb") as f:
      data = f.read()
  except FileNotFoundError:
    raise CompressorError(f"{input_path}: no such file") from None
  except IsADirectoryError:
    raise CompressorError(f"{input_path} is a directory, not a compressed file") from None
  header, model, payloads = _open_bitstream(data, model, max_pixels)
  # Written band by band as the synthesis makes them, so that memory does not
  # grow with the image; a payload found corrupt at the end leaves no file.
  write_png_rows(output_path, header.width, header.height, header.layout,
                 _decoded_bands(header, model, payloads, tile_size), overwrite)
  return CodingStats(header.width, header.height, header.layout, len(data))


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
  def files_per_second(self):
    return self.index / max(self.elapsed, 1e-9)

  @property
  def eta(self):
    """Seconds until the last file is done, at the pace so far."""
    return (self.total - self.index) / self.files_per_second


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
  compress_file; with a target, pass loaded models, not directories. `effort`
  is as for compress_file.
  """
  refinement.check_effort(effort)
  output_dir = output_dir or input_dir
  plan = _folder_plan(input_dir, _is_image_name, "image files", output_dir,
                      default_compressed_path, overwrite)
  return _code_folder(plan, output_dir, lambda path, output: compress_file(
      model, path, output, overwrite, max_pixels, target_bpp, tile_size, effort), progress)


def _one_load_per_model(resolve):
  """A header -> model callable that loads each model (by fingerprint) once."""
  models = {}
  def cached(header):
    if header.fingerprint not in models:
      models[header.fingerprint] = resolve(header)
    return models[header.fingerprint]
  return cached


def decompress_folder(model, input_dir, output_dir=None, overwrite=False,
                      max_pixels=DEFAULT_MAX_PIXELS, progress=None, tile_size=DEFAULT_TILE_SIZE):
  """Decompresses every .cmpr file directly in `input_dir`; returns a FolderItem per file.

  As compress_folder, with outputs named as decompress_file names them.
  `model` is a loaded model or a callable header -> model (see
  model_resolver), which is then called once per distinct model.
  """
  output_dir = output_dir or input_dir
  plan = _folder_plan(input_dir, lambda name: name.endswith(EXTENSION), f"{EXTENSION} files",
                      output_dir, lambda name: os.path.basename(default_decompressed_path(name)),
                      overwrite)
  if not isinstance(model, tf.keras.Model):
    model = _one_load_per_model(model)
  return _code_folder(plan, output_dir, lambda path, output: decompress_file(
      model, path, output, overwrite, max_pixels, tile_size), progress)
