"""Trained models on disk: a directory with model.json and weights.npz, and fingerprints."""

import hashlib
import io
import json
import os

import numpy as np

from compressor.coding.zoo import BUNDLED_DIR
from compressor.errors import ModelError
from compressor.fileio import write_atomically
from compressor.nn.config import ModelConfig

__all__ = [
    "FINGERPRINT_BYTES",
    "LazyModels",
    "ModelFinder",
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
  from compressor.nn.registry import create_model
  model = create_model(config, initialize=False)
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


class ModelFinder:
  """The model a compressed file names: a given directory's, else the installed one it names.

  Installed models are looked up by the fingerprint in the file's header, in
  `search_path` (see model_search_path). Each model is loaded once and kept
  for the next files; with `max_loaded`, the longest kept is dropped first.
  The fingerprint hashes the exact weights, so a kept model is never the
  wrong one.
  """

  def __init__(self, model_dir=None, search_path=(), max_loaded=None):
    self.model_dir = model_dir
    self.search_path = list(search_path)
    self.max_loaded = max_loaded
    self._given = None
    self._loaded = {}

  def model_for(self, header):
    """The loaded model for a container.Header; ModelError if it is not installed."""
    if self.model_dir is not None:
      if self._given is None:
        self._given = load_model(self.model_dir)
      return self._given
    model = self._loaded.get(header.fingerprint)
    if model is None:
      found = find_model(header.fingerprint, self.search_path)
      if found is None:
        raise ModelError(
            f"the file was made by model {header.model_name!r} "
            f"(fingerprint {header.fingerprint.hex()}), which is not installed; "
            "pass --model DIR")
      model = load_model(found)
      while self.max_loaded is not None and len(self._loaded) >= self.max_loaded:
        del self._loaded[next(iter(self._loaded))]
      self._loaded[header.fingerprint] = model
    return model


class LazyModels:
  """A sequence of models given as directories (or loaded), each loaded when first used.

  `codec.compress_to_target` codes an image at about log2(n) + 1 of n levels:
  only those are loaded, each once.
  """

  def __init__(self, models):
    self._models = list(models)

  def __len__(self):
    return len(self._models)

  def __getitem__(self, index):
    if isinstance(self._models[index], (str, os.PathLike)):
      self._models[index] = load_model(self._models[index])
    return self._models[index]
