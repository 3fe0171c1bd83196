"""Putting trained models into the package, measured, and describing what is bundled."""

import dataclasses
import os
import shutil
import tempfile

import numpy as np
from absl import logging

from compressor.coding import zoo
from compressor.coding.codec import compress_image, decompress_bytes
from compressor.coding.container import bits_per_pixel
from compressor.coding.images import read_image, split_alpha
from compressor.coding.store import WEIGHTS_FILE, load_model, read_description, save_model
from compressor.evaluation.metrics import psnr
from compressor.nn.registry import create_model

__all__ = ["BundledModel", "bundle_model", "describe_bundled"]


def _half_precision_copy(model):
  """A new model with every weight rounded to float16 precision, and its own tables.

  Bundled weights are stored as float16 to halve the package; the tables are
  built from the rounded weights so that tables and weights agree.
  """
  rounded = create_model(model.config)
  rounded.set_named_weights({k: v.astype(np.float16).astype(np.float32)
                             for k, v in model.named_weights().items()})
  rounded.build_coding_tables()
  rounded.metadata = dict(model.metadata)
  return rounded


def _measure(model, image_paths):
  """Mean file bpp and PSNR over the images, through real bitstreams."""
  bpps, psnrs = [], []
  for i, path in enumerate(image_paths, 1):
    image = read_image(path)
    rgb = split_alpha(image)[0]
    data = compress_image(model, image)
    # As RGB, as the model coded it: gray layouts decode to one channel.
    decoded = split_alpha(decompress_bytes(data, model))[0]
    height, width = rgb.shape[:2]
    bpps.append(bits_per_pixel(len(data), width, height))
    psnrs.append(psnr(rgb, decoded))
    if i % 10 == 0 or i == len(image_paths):
      logging.info("measured %d/%d images", i, len(image_paths))
  return dict(images=len(image_paths), bpp=float(np.mean(bpps)), psnr=float(np.mean(psnrs)))


def bundle_model(source_dir, name, image_paths, measured_on, destination=None):
  """Copies a trained model into the package in half precision, with its measured rate.

  `measured_on` names the image set (e.g. "CBSD68") for `compressor models`.
  The model is written beside the target and renamed into place, so a failed
  run never leaves half a bundled model.
  """
  destination = destination or zoo.BUNDLED_DIR
  model = _half_precision_copy(load_model(source_dir))
  # The metadata describes the model; the folders of the machine that bundled it
  # (older exports recorded a training glob) mean nothing elsewhere.
  metadata = {k: v for k, v in model.metadata.items() if k not in ("bundled_from", "train_glob")}
  os.makedirs(destination, exist_ok=True)
  staging = tempfile.mkdtemp(prefix=f".{name}.", dir=destination)
  try:
    # Saving gives the model the name and fingerprint its bitstreams carry;
    # the second save only adds what was measured with them.
    save_model(model, staging, name, metadata, weight_dtype=np.float16)
    metadata["measured"] = dict(_measure(model, image_paths), on=measured_on)
    save_model(model, staging, name, metadata, weight_dtype=np.float16)
    target = os.path.join(destination, name)
    if os.path.exists(target):
      shutil.rmtree(target)
    os.rename(staging, target)
  except BaseException:
    shutil.rmtree(staging, ignore_errors=True)
    raise
  return target, metadata["measured"]


@dataclasses.dataclass
class BundledModel:
  """One row of `compressor models`."""

  name: str
  quality: int  # None for a model outside a family (not named FAMILY-qN)
  lmbda: float
  steps: int  # in total, with the steps of the model its training started from
  megabytes: float
  measured: dict


def describe_bundled():
  """Every bundled model with its quality level, training and measured rate."""
  rows = []
  for name, directory in zoo.bundled_models().items():
    metadata = read_description(directory).get("metadata", {})
    rows.append(BundledModel(
        name=name, quality=zoo.split_level_name(name)[1], lmbda=metadata.get("lambda"),
        steps=metadata.get("total_steps", metadata.get("steps")),
        megabytes=os.path.getsize(os.path.join(directory, WEIGHTS_FILE)) / 1e6,
        measured=metadata.get("measured", {})))
  return rows
