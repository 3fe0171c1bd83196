"""Shared fixtures: tiny models (untrained and briefly trained) and test photos."""

import os

import numpy as np
import pytest
from PIL import Image

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from compressor.nn.config import ModelConfig  # noqa: E402
from compressor.nn.registry import create_model  # noqa: E402
from compressor.training.trainer import TrainingConfig, train  # noqa: E402

TINY = ModelConfig(num_filters=16, latent_channels=16, kernel_sizes=(5, 5, 5, 5),
                   strides=(2, 2, 2, 2))


def random_image(height, width, channels=3, seed=0):
  """Smooth-ish random content: noise plus gradients, like a photo's statistics."""
  rng = np.random.default_rng(seed)
  y, x = np.mgrid[0:height, 0:width]
  base = 128 + 60 * np.sin(x / 7.0)[..., None] + 40 * np.cos(y / 11.0)[..., None]
  noise = rng.normal(0, 20, (height, width, channels))
  return np.clip(base + noise, 0, 255).astype(np.uint8)


def photo(name):
  import skimage.data
  return np.asarray(getattr(skimage.data, name)())


@pytest.fixture(scope="session")
def untrained_model():
  model = create_model(TINY)
  model.build_coding_tables()
  return model


@pytest.fixture(scope="session")
def photo_dir(tmp_path_factory):
  directory = tmp_path_factory.mktemp("photos")
  for name in ("astronaut", "coffee", "chelsea", "rocket"):
    Image.fromarray(photo(name)).save(directory / f"{name}.png")
  return directory


@pytest.fixture(scope="session")
def trained_model_dir(tmp_path_factory, photo_dir):
  """A tiny model trained for a few dozen steps and exported."""
  model_dir = tmp_path_factory.mktemp("models") / "tiny"
  config = TrainingConfig(train_glob=str(photo_dir / "*.png"), patch_size=64, batch_size=4,
                          steps=40, learning_rate=1e-3, clip_norm=1.0, log_every=20,
                          checkpoint_every=20, seed=1)
  train(str(model_dir), TINY, config, name="tiny")
  return str(model_dir)


@pytest.fixture(scope="session")
def trained_model(trained_model_dir):
  from compressor.coding.store import load_model
  return load_model(trained_model_dir)


@pytest.fixture(scope="session")
def seeded_model_dir(tmp_path_factory, photo_dir):
  """A seeded model exported before any training step: quick to make, the same every run."""
  model_dir = str(tmp_path_factory.mktemp("seeded") / "tiny")
  train(model_dir, TINY, TrainingConfig(train_glob=str(photo_dir / "*.png"), steps=0, seed=0),
        name="tiny")
  return model_dir
