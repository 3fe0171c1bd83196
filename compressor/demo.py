"""The demo: compress and decompress a public-domain photo, report bpp and PSNR."""

import dataclasses
import os

import numpy as np
from PIL import Image

from compressor.coding import zoo
from compressor.coding.codec import compress_file, decompress_file
from compressor.coding.images import read_image
from compressor.coding.store import load_model
from compressor.errors import CompressorError
from compressor.evaluation.metrics import psnr

__all__ = ["DemoResult", "PHOTOS", "run_demo", "save_photo"]

# Photos scikit-image ships inside its wheel (public domain or CC0).
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")


@dataclasses.dataclass
class DemoResult:
  photo: str
  compressed: str
  decoded: str
  width: int
  height: int
  num_bytes: int
  bpp: float
  psnr: float
  model: str


def save_photo(name, directory):
  """Writes scikit-image's photo `name` as PNG; returns its path."""
  try:
    import skimage.data
  except ImportError:
    raise CompressorError(
        "the demo photos come from scikit-image: pip install 'compressor[demo]'") from None
  if name not in PHOTOS:
    raise CompressorError(f"unknown demo photo {name!r}; choose one of {', '.join(PHOTOS)}")
  path = os.path.join(directory, f"{name}.png")
  Image.fromarray(np.asarray(getattr(skimage.data, name)())).save(path)
  return path


def run_demo(output_dir, photo="astronaut", model_dir=None):
  """Compresses and decompresses `photo` with the model (default: the bundled default)."""
  model_dir = zoo.resolve_model_dir(model_dir)
  os.makedirs(output_dir, exist_ok=True)
  model = load_model(model_dir)
  original = save_photo(photo, output_dir)
  compressed = original + ".cmpr"
  decoded = os.path.join(output_dir, f"{photo}.decoded.png")
  stats = compress_file(model, original, compressed, overwrite=True)
  decompress_file(model, compressed, decoded, overwrite=True)
  quality = psnr(read_image(original).pixels, read_image(decoded).pixels)
  return DemoResult(photo, compressed, decoded, stats.width, stats.height,
                    stats.num_bytes, stats.bpp, quality, model.model_name)
