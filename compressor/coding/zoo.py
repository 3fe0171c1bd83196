"""Models that ship inside the package, found by name or by family and quality level."""

import os
import re

from compressor.errors import ModelError

__all__ = [
    "BUNDLED_DIR",
    "BUNDLED_DIR_ENV",
    "DEFAULT_FAMILY",
    "bundled_models",
    "default_quality",
    "quality_levels",
    "resolve_model_dir",
    "split_level_name",
]

# Packagers may keep the bundled models elsewhere; tests point this at their own.
BUNDLED_DIR_ENV = "COMPRESSOR_BUNDLED_DIR"
BUNDLED_DIR = os.environ.get(BUNDLED_DIR_ENV) or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "bundled")
DEFAULT_FAMILY = "bmshj2018-factorized"
# A family's models are named FAMILY-qN; quality 1 makes the smallest files.
_LEVEL_NAME = re.compile(r"^(?P<family>.+)-q(?P<level>[1-9][0-9]*)$")


def bundled_models():
  """Name -> directory of every bundled model."""
  if not os.path.isdir(BUNDLED_DIR):
    return {}
  return {name: os.path.join(BUNDLED_DIR, name) for name in sorted(os.listdir(BUNDLED_DIR))
          if os.path.isfile(os.path.join(BUNDLED_DIR, name, "model.json"))}


def split_level_name(name):
  """(family, quality) of a name FAMILY-qN; (None, None) for other names."""
  match = _LEVEL_NAME.match(name)
  return (match["family"], int(match["level"])) if match else (None, None)


def quality_levels(family=DEFAULT_FAMILY):
  """Quality level -> directory of a bundled family's models, in increasing order."""
  levels = {}
  for name, directory in bundled_models().items():
    model_family, level = split_level_name(name)
    if model_family == family:
      levels[level] = directory
  return dict(sorted(levels.items()))


def default_quality(levels):
  """The middle level, the upper one of two middles: neither the smallest files nor the largest.

  With an even number of levels the upper middle keeps the default near the rate of
  everyday photos (JPEG quality 75 is about 1 bpp), not at the low rates made for thumbnails.
  """
  return list(levels)[len(levels) // 2]


def _families():
  return sorted({split_level_name(name)[0] for name in bundled_models()} - {None})


def resolve_model_dir(spec=None, quality=None):
  """A model directory from a path, a bundled model's name, or a family and quality.

  `spec` None means the default family. A family without `quality` gives its
  default level; a quality with a path or a single model's name is an error,
  since such a model has one rate.
  """
  models = bundled_models()
  family = DEFAULT_FAMILY if spec is None else spec
  levels = quality_levels(family)
  if levels:
    if quality is None:
      quality = default_quality(levels)
    if quality not in levels:
      raise ModelError(f"{family} has no quality {quality}; bundled levels: "
                       f"{', '.join(map(str, levels))}")
    return levels[quality]
  if quality is not None:
    known = ", ".join(_families()) or "none"
    raise ModelError(f"--quality needs a bundled model family, not {family!r} "
                     f"(bundled families: {known})")
  if spec is not None and spec in models:
    return models[spec]
  if spec is not None and os.path.isdir(spec):
    return spec
  known = ", ".join(models) or "none"
  raise ModelError(f"{family!r} is neither a model directory nor a bundled model "
                   f"(bundled: {known})")
