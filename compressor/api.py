"""The public Python API: encode and decode images in memory, read headers, load models once.

`import compressor` exposes these names lazily. This module imports only the
container and the standard library at load time: NumPy and Pillow are
imported by the functions that take or make images, and TensorFlow (seconds
of start-up) only when a model is loaded, so `read_header` and
`compressor info` never pay for it.
"""

import dataclasses
import os
import warnings
from typing import TYPE_CHECKING, Optional, Sequence, Tuple, Union

from compressor.coding import container
from compressor.errors import BitstreamError, CompressorError, ImageError, ModelError

if TYPE_CHECKING:
  import numpy as np
  from PIL import Image

  from compressor.nn.base import CodecModel as Model

__all__ = [
    "CompressorWarning",
    "Header",
    "ModelLike",
    "ModelSpec",
    "decode",
    "encode",
    "find_model_dir",
    "load_model",
    "read_header",
]

# A loaded model (from load_model), a model directory, a bundled model's name
# or a bundled family (None: the default family).
ModelLike = Union[None, str, "os.PathLike[str]", "Model"]
# For encode with target_bpp, also a sequence of those, from low to high rate.
ModelSpec = Union[ModelLike, Sequence[ModelLike]]
ImageLike = Union["Image.Image", "np.ndarray"]
# The bound on models kept loaded for decode: a program that meets many models
# does not hold them all.
_MAX_CACHED_MODELS = 4
# store.ModelFinder, made at the first decode without a model (it needs NumPy).
_finder = None


class CompressorWarning(UserWarning):
  """A note `compressor compress` would print: a conversion of the image (mode,
  bit depth, orientation, opaque alpha), or a target or effort not met."""


@dataclasses.dataclass(frozen=True)
class Header:
  """What a compressed file's header says, read without decoding."""

  width: int
  height: int
  layout: str  # L, LA, RGB or RGBA
  model_name: str
  fingerprint: str  # hex, as in the model's model.json
  file_size: int  # bytes, header and checksum included
  # (what, bytes) of each payload in file order: "latents", with the hyperprior
  # models "side information" first, and "alpha" for the alpha plane.
  payload_sizes: Tuple[Tuple[str, int], ...]

  @property
  def bpp(self) -> float:
    """Bits per pixel of the whole file, as `compressor compress` reports it."""
    return container.bits_per_pixel(self.file_size, self.width, self.height)

  @property
  def has_alpha(self) -> bool:
    return container.has_alpha(self.layout)


def _as_bytes(data):
  if isinstance(data, bytes):
    return data
  if isinstance(data, (bytearray, memoryview)):
    return bytes(data)
  if isinstance(data, (str, os.PathLike)):
    raise BitstreamError("expected the bytes of a compressed file, not a path "
                         "(read it with open(path, 'rb').read())")
  raise BitstreamError(f"expected the bytes of a compressed file, not {type(data).__name__}")


def read_header(data: Union[bytes, bytearray, memoryview]) -> Header:
  """The header of a compressed file's bytes; raises BitstreamError if they are not one.

  The whole file is checked (length and CRC32) as the decoder checks it, but
  nothing is decoded and no model is needed.
  """
  data = _as_bytes(data)
  header, payloads = container.unpack(data)
  names = ["side information", "latents"][-len(header.coded_shapes):]
  if len(header.coded_shapes) > 2:
    names = [f"tensor {i}" for i in range(len(header.coded_shapes))]
  coded, alpha = header.split_payloads(payloads)
  sizes = [sum(len(band) for band in bands) for bands in coded]
  if alpha is not None:
    names.append("alpha")
    sizes.append(len(alpha))
  return Header(width=header.width, height=header.height, layout=header.layout,
                model_name=header.model_name, fingerprint=header.fingerprint.hex(),
                file_size=len(data), payload_sizes=tuple(zip(names, sizes)))


def find_model_dir(fingerprint: Union[str, bytes], model_path: Sequence[str] = ()) -> Optional[str]:
  """Directory of the installed model with this fingerprint, or None, without TensorFlow.

  Searches `model_path`, then $COMPRESSOR_MODEL_PATH, then the bundled models,
  as `compressor decompress` does.
  """
  from compressor.coding import store
  wanted = bytes.fromhex(fingerprint) if isinstance(fingerprint, str) else fingerprint
  return store.find_model(wanted, store.model_search_path(model_path))


def load_model(name_or_dir: "Union[str, os.PathLike[str], None]" = None, *,
               quality: Optional[int] = None) -> "Model":
  """Loads a model once, for encode and decode to reuse.

  `name_or_dir` is a model directory, a bundled model's name or a bundled
  family (None: the default family); `quality` picks a family's level
  (default: its middle one). Raises ModelError naming what is wrong.
  """
  from compressor.coding.zoo import resolve_model_dir
  if name_or_dir is not None and not isinstance(name_or_dir, (str, os.PathLike)):
    raise ModelError(f"expected a model directory or a bundled model's name, not "
                     f"{type(name_or_dir).__name__}")
  directory = resolve_model_dir(None if name_or_dir is None else os.fspath(name_or_dir),
                                quality)
  from compressor.coding.store import load_model as load  # TensorFlow: only now
  return load(directory)


def _is_loaded_model(model):
  return isinstance(getattr(model, "fingerprint", None), bytes) and hasattr(model, "encode")


def _model(model, quality=None):
  """A loaded model from anything `model=` accepts."""
  if model is None or isinstance(model, (str, os.PathLike)):
    return load_model(model, quality=quality)
  if not _is_loaded_model(model):
    raise ModelError(f"model must be a loaded model (compressor.load_model), a model "
                     f"directory or a bundled name, not {type(model).__name__}")
  if quality is not None:
    raise ModelError("quality picks a level of a bundled family, not of a loaded model")
  return model


def _target_models(model):
  """The models, low to high rate, that target_bpp chooses from."""
  from compressor.coding.zoo import DEFAULT_FAMILY, quality_levels, resolve_model_dir
  if isinstance(model, (list, tuple)):
    if not model:
      raise ModelError("no models to choose from")
    # compress_to_target loads only the levels it tries.
    from compressor.coding.store import LazyModels
    return LazyModels(resolve_model_dir(os.fspath(m)) if isinstance(m, (str, os.PathLike))
                      else _model(m) for m in model)
  family = DEFAULT_FAMILY if model is None else model
  levels = quality_levels(family) if isinstance(family, str) else {}
  if not levels:
    shown = repr(family) if isinstance(family, (str, os.PathLike)) else type(family).__name__
    raise ModelError(f"--target_bpp needs a bundled model family with quality levels, "
                     f"not {shown}")
  from compressor.coding.store import LazyModels
  return LazyModels(levels.values())


def _decoded_image(image, notes):
  """A DecodedImage with the conversions `compressor compress` makes (see images.read_image)."""
  import numpy as np
  from PIL import Image

  from compressor.coding.images import from_pillow, from_pixels
  if isinstance(image, Image.Image):
    if image.width == 0 or image.height == 0:
      raise ImageError("image has zero width or height")
    try:
      image.load()
    except (OSError, SyntaxError, ValueError) as e:
      raise ImageError(f"corrupt or unreadable image ({e})") from None
    pixels = from_pillow(image, notes)
  elif isinstance(image, np.ndarray):
    if image.dtype != np.uint8:
      raise ImageError(f"pixels of dtype {image.dtype}; encode takes uint8 (0-255)")
    pixels = image
  else:
    raise ImageError(f"expected a PIL image or a uint8 numpy array, not {type(image).__name__}")
  if pixels.ndim not in (2, 3) or (pixels.ndim == 3 and not 1 <= pixels.shape[2] <= 4):
    raise ImageError(f"pixels of shape {pixels.shape}; encode takes H x W or H x W x C "
                     "with C = 1 (L), 2 (LA), 3 (RGB) or 4 (RGBA)")
  height, width = pixels.shape[:2]
  if (width > container.MAX_SIDE or height > container.MAX_SIDE
      or width * height > container.MAX_PIXELS):
    raise ImageError(f"image is {width}x{height}; the format stores at most "
                     f"{container.MAX_SIDE} pixels a side and {container.MAX_PIXELS} in all")
  return from_pixels(pixels, notes)


def encode(image: ImageLike, *, model: ModelSpec = None, quality: Optional[int] = None,
           target_bpp: Optional[float] = None, effort: int = 0) -> bytes:
  """Compresses a PIL image or uint8 array (H x W, or H x W x 1/2/3/4) to a file's bytes.

  `model` is a loaded model (load_model), a model directory, a bundled name or
  family (None: the default family), with `quality` for a family's level. With
  `target_bpp`, the family's highest level whose file fits is used (or, with a
  sequence of models from low to high rate, the highest of those); if none
  fits, the smallest file, with a warning. Conversions (mode, bit depth, EXIF
  orientation, opaque alpha) are made as `compressor compress` makes them and
  reported, as its other notes are, as CompressorWarning. `effort` (0 to 3)
  refines the latents for a smaller file, more slowly. Raises ImageError,
  ModelError or CompressorError.
  """
  return _encode(image, model, quality, target_bpp, effort, stacklevel=3)


def _encode(image, model, quality, target_bpp, effort, stacklevel):
  """encode, with the notes warned `stacklevel` frames up (the Pillow plugin's caller)."""
  notes = []
  decoded = _decoded_image(image, notes)
  if target_bpp is not None:
    if quality is not None:
      raise CompressorError("quality and target_bpp are alternatives: give one")
    if not target_bpp >= 0:
      raise CompressorError(f"target_bpp must be at least 0, not {target_bpp}")
    models = _target_models(model)
  else:
    models = _model(model, quality)
  from compressor.coding import codec
  # `effort` is new in the encoder; passed only when asked for, so effort=0
  # works with any build.
  extra = {"effort": effort} if effort else {}
  if target_bpp is None:
    data, chosen = codec.compress_image(models, decoded, **extra), models
  else:
    data, chosen = codec.compress_to_target(models, decoded, target_bpp, **extra)
    if container.bits_per_pixel(len(data), decoded.width, decoded.height) > target_bpp:
      notes.append(f"nothing fits in {target_bpp} bpp; {chosen.model_name} makes the "
                   "smallest file")
  if effort:
    from compressor.coding import refinement
    from compressor.nn.tiling import DEFAULT_TILE_SIZE
    lowered = refinement.lowered_effort_note(chosen, decoded.height, decoded.width,
                                             DEFAULT_TILE_SIZE, effort)
    notes += [lowered] if lowered else []
  for note in notes:
    warnings.warn(note, CompressorWarning, stacklevel=stacklevel)
  return data


def _installed_models():
  """The finder of the models that files name, kept loaded for the next files."""
  global _finder
  from compressor.coding.store import ModelFinder, model_search_path
  search_path = model_search_path()  # $COMPRESSOR_MODEL_PATH as it is now
  if _finder is None or _finder.search_path != search_path:
    _finder = ModelFinder(search_path=search_path, max_loaded=_MAX_CACHED_MODELS)
  return _finder


def decode(data: Union[bytes, bytearray, memoryview], *, model: ModelLike = None) -> "Image.Image":
  """Decompresses a file's bytes to a PIL image of mode L, LA, RGB or RGBA.

  Without `model`, the model the file names is looked up by its fingerprint
  in $COMPRESSOR_MODEL_PATH and the bundled models, and kept loaded for the
  next file. Raises BitstreamError or ModelError.
  """
  data = _as_bytes(data)
  # Bytes that are no compressed file fail here, before TensorFlow loads.
  container.unpack(data)
  model = _installed_models() if model is None else _model(model)
  from PIL import Image

  from compressor.coding.codec import decompress_bytes
  decoded = decompress_bytes(data, model)
  pixels = decoded.pixels[:, :, 0] if decoded.layout == "L" else decoded.pixels
  return Image.fromarray(pixels)  # uint8 with 1, 2, 3, 4 channels: L, LA, RGB, RGBA
