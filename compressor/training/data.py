"""The training input pipeline: image files to batches of random crops."""

import concurrent.futures
import glob
import os

import numpy as np
import tensorflow as tf
from absl import logging
from PIL import Image

from compressor.errors import TrainingError

__all__ = [
    "cached_training_dataset",
    "decode_for_cache",
    "decoded_megabytes",
    "list_images",
    "load_image_tensor",
    "training_dataset",
]

# What tf.io.decode_image reads; other files would fail inside the pipeline.
_DECODABLE_FORMATS = ("JPEG", "PNG", "GIF", "BMP")


def _decodable(path):
  try:
    with Image.open(path) as image:
      return image.format in _DECODABLE_FORMATS
  except (OSError, SyntaxError, ValueError):
    return False


def list_images(pattern):
  """Sorted image files matching a glob (with ** recursion) that TF can decode.

  Files that are not JPEG, PNG, GIF or BMP images are skipped with a warning;
  no usable file at all is an error (an empty pipeline would wait forever).
  """
  files = sorted(f for f in glob.glob(pattern, recursive=True) if os.path.isfile(f))
  if not files:
    raise TrainingError(f"no files match {pattern!r}")
  usable = [f for f in files if _decodable(f)]
  skipped = len(files) - len(usable)
  if skipped:
    logging.warning("skipping %d of %d files matching %r that are not JPEG, PNG, GIF "
                    "or BMP images, e.g. %s", skipped, len(files), pattern,
                    next(f for f in files if f not in usable))
  if not usable:
    raise TrainingError(f"none of the {len(files)} files matching {pattern!r} is a "
                        "readable JPEG, PNG, GIF or BMP image")
  return usable


def load_image_tensor(path):
  """Decodes one file to a uint8 HxWx3 tensor (grayscale expanded to RGB)."""
  image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
  image.set_shape([None, None, 3])
  return image


def _random_crop(image, patch_size):
  """A random patch; smaller images are first upscaled so they cover the patch."""
  shape = tf.cast(tf.shape(image)[:2], tf.float32)
  scale = tf.maximum(1.0, patch_size / tf.reduce_min(shape))
  def upscale():
    size = tf.cast(tf.math.ceil(shape * scale), tf.int32)
    resized = tf.image.resize(image, size, method="bilinear", antialias=False)
    return tf.cast(tf.clip_by_value(tf.round(resized), 0, 255), tf.uint8)
  image = tf.cond(scale > 1.0, upscale, lambda: image)
  return tf.image.random_crop(image, (patch_size, patch_size, 3))


def training_dataset(files, patch_size, batch_size, seed=None):
  """Endless, shuffled batches of float32 [0, 255] crops, decoded in parallel."""
  dataset = tf.data.Dataset.from_tensor_slices(files)
  dataset = dataset.shuffle(len(files), seed=seed, reshuffle_each_iteration=True).repeat()
  dataset = dataset.map(
      lambda path: tf.cast(_random_crop(load_image_tensor(path), patch_size), tf.float32),
      num_parallel_calls=tf.data.AUTOTUNE, deterministic=seed is not None)
  # An unreadable file drops out of the stream instead of stopping training.
  dataset = dataset.ignore_errors(log_warning=True)
  return dataset.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def _covering_size(width, height, patch_size):
  """(width, height) scaled up, as _random_crop does, so that the image covers the patch."""
  scale = max(1.0, patch_size / min(width, height))
  return int(np.ceil(width * scale)), int(np.ceil(height * scale))


def decoded_megabytes(files, patch_size):
  """What `decode_for_cache` would hold, in MB, from the files' headers alone."""
  total = 0
  for path in files:
    with Image.open(path) as image:
      width, height = _covering_size(*image.size, patch_size)
    total += 3 * width * height
  return total / 1e6


def _decode_rgb(path, patch_size):
  """One file as a uint8 HxWx3 array that covers the patch, or None if it cannot be read."""
  try:
    with Image.open(path) as image:
      image = image.convert("RGB")
  except (OSError, SyntaxError, ValueError) as e:
    logging.warning("skipping training image %s: %s", path, e)
    return None
  size = _covering_size(*image.size, patch_size)
  if size != image.size:
    image = image.resize(size, Image.BILINEAR)
  return np.asarray(image)


def decode_for_cache(files, patch_size):
  """Every readable file decoded once, as uint8 arrays; unreadable files are skipped."""
  # Pillow releases the GIL while it decodes, so threads use every core.
  with concurrent.futures.ThreadPoolExecutor(os.cpu_count()) as pool:
    images = [image for image in pool.map(lambda f: _decode_rgb(f, patch_size), files)
              if image is not None]
  if not images:
    raise TrainingError(f"none of the {len(files)} training images could be decoded")
  return images


def cached_training_dataset(images, patch_size, batch_size, seed=None):
  """Endless batches of float32 [0, 255] crops cut from images held in memory.

  As `training_dataset`: every epoch visits each image once in a new random
  order, and each visit cuts one crop at a random place. Nothing is decoded
  again, so the two cores are left to the model.
  """
  rng = np.random.default_rng(seed)
  def batches():
    # A new array for every batch: TensorFlow may keep using the one it was given.
    batch = np.empty((batch_size, patch_size, patch_size, 3), np.uint8)
    filled = 0
    while True:
      for index in rng.permutation(len(images)):
        image = images[index]
        top = rng.integers(image.shape[0] - patch_size + 1)
        left = rng.integers(image.shape[1] - patch_size + 1)
        batch[filled] = image[top:top + patch_size, left:left + patch_size]
        filled += 1
        if filled == batch_size:
          yield batch
          batch = np.empty_like(batch)
          filled = 0
  dataset = tf.data.Dataset.from_generator(
      batches, output_signature=tf.TensorSpec((batch_size, patch_size, patch_size, 3), tf.uint8))
  return dataset.map(lambda batch: tf.cast(batch, tf.float32)).prefetch(tf.data.AUTOTUNE)
