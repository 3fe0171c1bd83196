"""The training input pipeline: image files to batches of random crops."""

import glob
import os

import tensorflow as tf
from absl import logging
from PIL import Image

from compressor.errors import TrainingError

__all__ = ["list_images", "training_dataset", "load_image_tensor"]

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
