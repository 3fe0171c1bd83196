"""Model configuration: the architecture hyperparameters saved with every model."""

import dataclasses
import json

from compressor.errors import ModelError

__all__ = ["HYPER_SYNTHESES", "HYPER_SYNTHESIS_NAMES", "ModelConfig", "NORMALIZATIONS",
           "ceil_div"]

# What follows each convolution but the last; compressor.nn.transforms says what
# each one builds. "gdn" is the simplified GDN that models saved so far use.
NORMALIZATIONS = ("gdn", "gdn-sqrt", "group", "instance", "layer", "relu")
# Kinds of hyper-synthesis: None is floating point, as every model saved before.
HYPER_SYNTHESES = (None, "integer")
# How users name them (`compressor train --hyper_synthesis`): None stays the config's
# spelling of floating point, which keeps the fingerprints of older models.
HYPER_SYNTHESIS_NAMES = {None: "float", "integer": "integer"}


def ceil_div(a, b):
  """a / b rounded up, for integers or integer tensors: e.g. latents per padded image side."""
  return -(-a // b)


@dataclasses.dataclass(frozen=True)
class ModelConfig:
  """Architecture of a codec; together with the weights it defines the model.

  The defaults are the RGB model of Ballé, Laparra & Simoncelli (2017): a 9x9
  stride-4 convolution followed by two 5x5 stride-2 convolutions, GDN between
  them, mirrored in the synthesis transform with IGDN.
  """

  architecture: str = "factorized"
  num_filters: int = 128
  latent_channels: int = 128
  kernel_sizes: tuple = (9, 5, 5)
  strides: tuple = (4, 2, 2)
  normalization: str = "gdn"
  # Filters of the hyperprior transforms; None means num_filters. The factorized
  # model has no hyperprior and ignores it.
  hyper_filters: int = None
  # The hyperprior models' hyper-synthesis: None, floating point; "integer", in
  # integer arithmetic (compressor.nn.integer), so that the scale indexes are the
  # same on every machine. Part of the config, so of the fingerprint.
  hyper_synthesis: str = None

  def __post_init__(self):
    object.__setattr__(self, "kernel_sizes", tuple(int(k) for k in self.kernel_sizes))
    object.__setattr__(self, "strides", tuple(int(s) for s in self.strides))
    if len(self.kernel_sizes) != len(self.strides) or not self.strides:
      raise ModelError(
          f"kernel_sizes {list(self.kernel_sizes)} and strides {list(self.strides)} "
          "must be non-empty lists of equal length")
    if min(self.kernel_sizes) < 1 or min(self.strides) < 1:
      raise ModelError("kernel sizes and strides must be positive")
    if self.num_filters < 1 or self.latent_channels < 1:
      raise ModelError("num_filters and latent_channels must be positive")
    if self.hyper_filters is not None and self.hyper_filters < 1:
      raise ModelError("hyper_filters must be positive")
    if self.hyper_synthesis not in HYPER_SYNTHESES:
      raise ModelError(f"unknown hyper_synthesis {self.hyper_synthesis!r}; choose "
                       "integer, or leave it unset for floating point")
    if self.hyper_synthesis is not None and self.architecture == "factorized":
      raise ModelError("the factorized architecture has no hyper-synthesis; "
                       "hyper_synthesis needs a hyperprior architecture")
    if self.normalization not in NORMALIZATIONS:
      raise ModelError(
          f"unknown normalization {self.normalization!r}; "
          f"choose one of {', '.join(NORMALIZATIONS)}")

  @property
  def downsampling(self):
    """Factor by which the analysis transform shrinks each spatial side."""
    factor = 1
    for stride in self.strides:
      factor *= stride
    return factor

  def latent_size(self, height, width):
    """Latent (height, width) for an image of the given size after padding."""
    factor = self.downsampling
    return ceil_div(height, factor), ceil_div(width, factor)

  @property
  def side_filters(self):
    """Filters of the hyperprior transforms, which are also the side information's channels."""
    return self.num_filters if self.hyper_filters is None else self.hyper_filters

  def to_dict(self):
    # Unset optional fields are left out, so that configs saved before a field
    # existed keep their canonical JSON, and with it their fingerprints.
    return {k: list(v) if isinstance(v, tuple) else v
            for k, v in dataclasses.asdict(self).items() if v is not None}

  @classmethod
  def from_dict(cls, values):
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
      raise ModelError(f"unknown model config fields: {', '.join(unknown)}")
    return cls(**values)

  def canonical_json(self):
    """Stable text form, used in the model fingerprint."""
    return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
