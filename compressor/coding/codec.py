"""Compressing images to bitstream files and back, with a loaded model."""

import dataclasses
import os
import zlib

import numpy as np

from compressor.coding import container, refinement
from compressor.coding.images import (
  DEFAULT_MAX_PIXELS,
  DecodedImage,
  check_pixel_limit,
  merge_alpha_rows,
  read_image,
  split_alpha,
  write_png_rows,
)
from compressor.coding.store import ModelFinder
from compressor.errors import BitstreamError, CompressorError, ModelError
from compressor.fileio import check_output_path, write_atomically
from compressor.nn.tiling import DEFAULT_TILE_SIZE

__all__ = [
    "CodingStats",
    "compress_file",
    "compress_image",
    "compress_to_target",
    "decompress_bytes",
    "decompress_file",
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
  latents for a smaller file at the same quality (see compressor.coding.refinement);
  images coded in tiles are not refined.
  """
  rgb, alpha = split_alpha(image)
  coded, coded_shapes = refinement.encode(model, rgb, effort, tile_size)
  payloads = [band for bands in coded for band in bands]
  if alpha is not None:
    payloads.append(zlib.compress(alpha.tobytes(), 9))
  header = container.Header(
      layout=image.layout, model_name=model.model_name or "", fingerprint=model.fingerprint,
      width=image.width, height=image.height, coded_shapes=coded_shapes)
  return container.pack(header, payloads)


def compress_to_target(models, image, target_bpp, tile_size=DEFAULT_TILE_SIZE, effort=0):
  """Codes `image` with the highest-rate model whose file fits in `target_bpp`.

  `models` (a sequence of loaded models, or a store.LazyModels that loads
  each when first needed) go from low to high rate. File size grows with the
  level, so a binary search codes the image about log2(len(models)) + 1
  times. When even the first model exceeds the target its file, the smallest
  there is, is returned. Returns (bytes, the model used). Every level is
  coded at `effort`, since refinement changes which levels fit.
  """
  refinement.check_effort(effort)
  if not models:
    raise ModelError("no models to choose from")
  num_pixels = image.width * image.height
  coded = {}
  def code(index):
    if index not in coded:
      coded[index] = compress_image(models[index], image, tile_size, effort), models[index]
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
  if isinstance(model, ModelFinder):
    model = model.model_for(header)
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
  coded, alpha_payload = header.split_payloads(payloads)
  alpha = None
  if alpha_payload is not None:
    alpha = _alpha_rows(alpha_payload, header)
    next(alpha)
  # A corrupt payload is a BitstreamError from the model; any other exception
  # is a bug, and propagates so that tests and the fuzzer see it.
  for rgb in model.decode_bands(coded, header.coded_shapes, header.height,
                                header.width, tile_size=tile_size):
    yield merge_alpha_rows(rgb, None if alpha is None else alpha.send(len(rgb)), header.layout)
  if alpha is not None:
    alpha.send(0)


def decompress_bytes(data, model, max_pixels=DEFAULT_MAX_PIXELS, tile_size=DEFAULT_TILE_SIZE):
  """Decodes a bitstream file's bytes with `model`, or the one a store.ModelFinder finds.

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

  With `target_bpp`, `model` is a sequence of models from low to high rate and
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


def decompress_file(model, input_path, output_path=None, overwrite=False,
                    max_pixels=DEFAULT_MAX_PIXELS, tile_size=DEFAULT_TILE_SIZE):
  """Reads a bitstream file, writes the decoded PNG; returns CodingStats.

  `model` is a loaded model, or a store.ModelFinder that finds the file's.
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
