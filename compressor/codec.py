"""Compressing images to bitstream files and back, with a loaded model."""

import dataclasses
import os
import zlib

import numpy as np
import tensorflow as tf

from compressor import container
from compressor.errors import BitstreamError, CompressorError, ModelError
from compressor.fileio import check_output_path, write_atomically
from compressor.images import (DEFAULT_MAX_PIXELS, check_pixel_limit, merge_alpha, read_image,
                               split_alpha, write_png)
from compressor.store import find_model, load_model

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

EXTENSION = ".cmpr"


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


def compress_image(model, image):
  """Encodes a DecodedImage to the bytes of a complete bitstream file."""
  rgb, alpha = split_alpha(image)
  payloads, coded_shapes = model.encode(rgb)
  if alpha is not None:
    payloads.append(zlib.compress(alpha.tobytes(), 9))
  header = container.Header(
      layout=image.layout, model_name=model.model_name or "", fingerprint=model.fingerprint,
      width=image.width, height=image.height, coded_shapes=coded_shapes)
  return container.pack(header, payloads)


def compress_to_target(models, image, target_bpp):
  """Codes `image` with the highest-rate model whose file fits in `target_bpp`.

  `models` (loaded models, or model directories loaded when first needed) go
  from low to high rate. File size grows with the level, so a binary search
  codes the image about log2(len(models)) + 1 times. When even the first model
  exceeds the target its file, the smallest there is, is returned. Returns
  (bytes, the model used).
  """
  if not models:
    raise ModelError("no models to choose from")
  num_pixels = image.width * image.height
  coded = {}
  def code(index):
    if index not in coded:
      model = models[index]
      model = load_model(model) if isinstance(model, (str, os.PathLike)) else model
      coded[index] = compress_image(model, image), model
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


def decompress_bytes(data, model, max_pixels=DEFAULT_MAX_PIXELS):
  """Decodes a bitstream file's bytes with `model`, or a callable header -> model."""
  header, payloads = container.unpack(data)
  check_pixel_limit(header.width, header.height, max_pixels, "the compressed image")
  if not isinstance(model, tf.keras.Model):
    model = model(header)
  _check_model(model, header)
  coded = len(header.coded_shapes)
  alpha = None
  if header.has_alpha:
    try:
      # Bounded output: a crafted payload cannot inflate past the image size.
      alpha = zlib.decompressobj().decompress(payloads[coded],
                                              header.width * header.height + 1)
    except zlib.error as e:
      raise BitstreamError(f"alpha plane is corrupt ({e})") from None
    if len(alpha) != header.width * header.height:
      raise BitstreamError("alpha plane has the wrong size")
    alpha = np.frombuffer(alpha, np.uint8).reshape(header.height, header.width)
  try:
    rgb = model.decode(payloads[:coded], header.coded_shapes, header.height, header.width)
  except Exception as e:  # The range decoder reports corruption as op errors.
    raise BitstreamError(f"latent payload cannot be decoded ({type(e).__name__})") from None
  return merge_alpha(rgb, alpha, header.layout)


def default_compressed_path(input_path):
  return input_path + EXTENSION


def default_decompressed_path(input_path):
  """photo.png.cmpr -> photo.decoded.png: never the name of the original."""
  base = input_path[:-len(EXTENSION)] if input_path.endswith(EXTENSION) else input_path
  return os.path.splitext(base)[0] + ".decoded.png"


def compress_file(model, input_path, output_path=None, overwrite=False,
                  max_pixels=DEFAULT_MAX_PIXELS, target_bpp=None):
  """Reads an image file, writes its bitstream; returns CodingStats.

  With `target_bpp`, `model` is a list of models from low to high rate and
  the file is made by the one `compress_to_target` picks (named in a note).
  """
  output_path = output_path or default_compressed_path(input_path)
  check_output_path(output_path, overwrite, inputs=[input_path])
  image = read_image(input_path, max_pixels)
  notes = list(image.notes)
  if target_bpp is None:
    data = compress_image(model, image)
  else:
    data, chosen = compress_to_target(model, image, target_bpp)
    fits = 8.0 * len(data) / (image.width * image.height) <= target_bpp
    notes.append(f"{chosen.model_name} is the highest rate within {target_bpp} bpp" if fits
                 else f"nothing fits in {target_bpp} bpp; {chosen.model_name} makes the "
                 "smallest file")
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
                    max_pixels=DEFAULT_MAX_PIXELS):
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
  image = decompress_bytes(data, model, max_pixels)
  write_png(output_path, image, overwrite)
  return CodingStats(image.width, image.height, image.layout, len(data))
