"""Trained models on disk: a directory with model.json and weights.npz, and fingerprints."""

import hashlib
import io
import json
import os

import numpy as np

from compressor.config import ModelConfig
from compressor.errors import ModelError
from compressor.fileio import write_atomically
from compressor.zoo import BUNDLED_DIR

__all__ = [
    "FINGERPRINT_BYTES",
    "fingerprint",
    "find_model",
    "load_model",
    "model_search_path",
    "save_model",
]

MODEL_FILE = "model.json"
WEIGHTS_FILE = "weights.npz"
FORMAT = "compressor-model"
FORMAT_VERSION = 1
FINGERPRINT_BYTES = 16
# Directories searched for a model named by a bitstream, besides --model.
SEARCH_PATH_ENV = "COMPRESSOR_MODEL_PATH"
_TABLE_PREFIX = "coding/"


def fingerprint(config, arrays):
  """SHA-256 over the canonical config and every array (name, dtype, shape, bytes)."""
  digest = hashlib.sha256(config.canonical_json().encode())
  for name in sorted(arrays):
    value = np.ascontiguousarray(arrays[name])
    digest.update(f"\n{name}:{value.dtype.str}:{value.shape}\n".encode())
    digest.update(value.tobytes())
  return digest.digest()[:FINGERPRINT_BYTES]


def _all_arrays(model):
  arrays = dict(model.named_weights())
  arrays.update({_TABLE_PREFIX + k: v for k, v in model.coding_tables().items()})
  return arrays


def save_model(model, directory, name, metadata=None, weight_dtype=None):
  """Writes config, weights and range-coding tables; returns the fingerprint.

  With `weight_dtype` (e.g. np.float16, to halve bundled models) the weights
  are stored in that type; the caller must have rounded the model's weights
  to it already, so that the saved model is the one in memory.
  """
  os.makedirs(directory, exist_ok=True)
  if not model.has_coding_tables:
    model.build_coding_tables()
  arrays = _all_arrays(model)
  if weight_dtype is not None:
    arrays = {k: v if k.startswith(_TABLE_PREFIX) else v.astype(weight_dtype)
              for k, v in arrays.items()}
  def write_weights(f):
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    f.write(buffer.getvalue())
  write_atomically(os.path.join(directory, WEIGHTS_FILE), write_weights, overwrite=True)
  model_fingerprint = fingerprint(model.config, arrays)
  description = {
      "format": FORMAT,
      "format_version": FORMAT_VERSION,
      "name": name,
      "fingerprint": model_fingerprint.hex(),
      "config": model.config.to_dict(),
      "metadata": metadata or {},
  }
  text = json.dumps(description, indent=2, sort_keys=True) + "\n"
  write_atomically(os.path.join(directory, MODEL_FILE),
                   lambda f: f.write(text.encode()), overwrite=True)
  model.model_name = name
  model.fingerprint = model_fingerprint
  return model_fingerprint


def read_description(directory):
  """Parses model.json; raises ModelError naming what is wrong."""
  path = os.path.join(directory, MODEL_FILE)
  if not os.path.isdir(directory):
    raise ModelError(f"model directory {directory} does not exist")
  try:
    with open(path) as f:
      description = json.load(f)
  except FileNotFoundError:
    raise ModelError(f"{directory} is not a model directory (no {MODEL_FILE})") from None
  except (OSError, ValueError) as e:
    raise ModelError(f"cannot read {path}: {e}") from None
  if description.get("format") != FORMAT:
    raise ModelError(f"{path} is not a compressor model description")
  if description.get("format_version") != FORMAT_VERSION:
    raise ModelError(
        f"{path} has model format version {description.get('format_version')}; "
        f"this build reads version {FORMAT_VERSION}")
  return description


def load_model(directory):
  """Loads a saved model ready to encode and decode; checks its fingerprint."""
  description = read_description(directory)
  config = ModelConfig.from_dict(description["config"])
  weights_path = os.path.join(directory, WEIGHTS_FILE)
  if not os.path.exists(weights_path):
    raise ModelError(
        f"{directory} has no {WEIGHTS_FILE}: training has not finished or exported yet")
  try:
    with np.load(weights_path, allow_pickle=False) as data:
      arrays = {k: data[k] for k in data.files}
  except (OSError, ValueError) as e:
    raise ModelError(f"cannot read {weights_path}: {e}") from None
  actual = fingerprint(config, arrays)
  if actual.hex() != description.get("fingerprint"):
    raise ModelError(
        f"{directory}: weights do not match the fingerprint in {MODEL_FILE} "
        "(files from different exports?)")
  # Here, not at the top: finding a model by its fingerprint needs no TensorFlow.
  from compressor.models import create_model
  model = create_model(config)
  # Weights stored in half precision compute in float32 like any other.
  model.set_named_weights({k: v.astype(np.float32) if v.dtype == np.float16 else v
                           for k, v in arrays.items() if not k.startswith(_TABLE_PREFIX)})
  model.set_coding_tables({k[len(_TABLE_PREFIX):]: v for k, v in arrays.items()
                           if k.startswith(_TABLE_PREFIX)})
  model.model_name = description["name"]
  model.fingerprint = actual
  model.metadata = description.get("metadata", {})
  return model


def model_search_path(extra=()):
  """Where a bitstream's model is looked for: `extra`, $COMPRESSOR_MODEL_PATH, bundled."""
  paths = list(extra)
  paths += [p for p in os.environ.get(SEARCH_PATH_ENV, "").split(os.pathsep) if p]
  return paths + [BUNDLED_DIR]


def find_model(wanted_fingerprint, search_path):
  """Returns the directory of the model with this fingerprint, or None.

  Each entry of the search path may be a model directory itself or a
  directory of model directories. Only model.json files are read here.
  """
  hex_fingerprint = wanted_fingerprint.hex()
  for root in search_path:
    candidates = [root]
    if os.path.isdir(root):
      candidates += sorted(os.path.join(root, d) for d in os.listdir(root))
    for candidate in candidates:
      if not os.path.isfile(os.path.join(candidate, MODEL_FILE)):
        continue
      try:
        description = read_description(candidate)
      except ModelError:
        continue
      if description.get("fingerprint", "")[:2 * FINGERPRINT_BYTES] == hex_fingerprint:
        return candidate
  return None
