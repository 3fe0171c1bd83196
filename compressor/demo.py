"""The demo: compress and decompress a public-domain photo, report bpp and PSNR."""

import dataclasses
import os

import numpy as np
from PIL import Image

from compressor import zoo
from compressor.codec import compress_file, decompress_file
from compressor.config import ModelConfig
from compressor.errors import CompressorError
from compressor.images import read_image
from compressor.metrics import psnr
from compressor.store import load_model
from compressor.training import TrainingConfig, train

__all__ = ["DemoResult", "PHOTOS", "run_demo", "save_photo"]

# Photos scikit-image ships inside its wheel (public domain or CC0).
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")
# A small Ballé 2018-style model that learns something useful in about a minute.
QUICK_MODEL = ModelConfig(num_filters=64, latent_channels=64,
                          kernel_sizes=(5, 5, 5, 5), strides=(2, 2, 2, 2))


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


def train_quick_model(directory, steps):
  """Trains QUICK_MODEL on the bundled photos (until bundled models exist)."""
  photos = os.path.join(directory, "photos")
  os.makedirs(photos, exist_ok=True)
  for name in PHOTOS:
    save_photo(name, photos)
  config = TrainingConfig(
      train_glob=os.path.join(photos, "*.png"), lmbda=0.01, patch_size=128, batch_size=8,
      steps=steps, learning_rate=1e-3, clip_norm=1.0, log_every=max(1, steps // 10),
      checkpoint_every=steps, seed=0)
  model_dir = os.path.join(directory, "quick-model")
  train(model_dir, QUICK_MODEL, config, name="demo-quick")
  return model_dir


def run_demo(output_dir, photo="astronaut", model_dir=None, train_steps=400):
  """Compresses and decompresses `photo` with the model.

  Without a model directory it uses the bundled default model, or, in a build
  without bundled models, trains a quick one first.
  """
  os.makedirs(output_dir, exist_ok=True)
  if model_dir is None:
    levels = zoo.quality_levels()
    model_dir = (levels[zoo.default_quality(levels)] if levels
                 else train_quick_model(output_dir, train_steps))
  model = load_model(model_dir)
  original = save_photo(photo, output_dir)
  compressed = original + ".cmpr"
  decoded = os.path.join(output_dir, f"{photo}.decoded.png")
  stats = compress_file(model, original, compressed, overwrite=True)
  decompress_file(model, compressed, decoded, overwrite=True)
  quality = psnr(read_image(original).pixels, read_image(decoded).pixels)
  return DemoResult(photo, compressed, decoded, stats.width, stats.height,
                    stats.num_bytes, stats.bpp, quality, model.model_name)
