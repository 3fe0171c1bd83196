"""Models that ship inside the package, found by name."""

import os

from compressor.errors import ModelError

__all__ = ["BUNDLED_DIR", "DEFAULT_MODEL", "bundled_models", "resolve_model_dir"]

BUNDLED_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bundled")
DEFAULT_MODEL = "bmshj2018-factorized-l0.01"


def bundled_models():
  """Name -> directory of every bundled model."""
  if not os.path.isdir(BUNDLED_DIR):
    return {}
  return {name: os.path.join(BUNDLED_DIR, name) for name in sorted(os.listdir(BUNDLED_DIR))
          if os.path.isfile(os.path.join(BUNDLED_DIR, name, "model.json"))}


def resolve_model_dir(spec=None):
  """A model directory from a path, a bundled model's name, or None for the default."""
  models = bundled_models()
  if spec is None:
    spec = DEFAULT_MODEL
  if spec in models:
    return models[spec]
  if os.path.isdir(spec):
    return spec
  known = ", ".join(models) or "none"
  raise ModelError(f"{spec!r} is neither a model directory nor a bundled model "
                   f"(bundled: {known})")
