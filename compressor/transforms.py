"""Analysis and synthesis transforms: strided convolutions with GDN / IGDN."""

import tensorflow as tf
import tensorflow_compression as tfc

__all__ = ["AnalysisTransform", "SynthesisTransform"]


def _normalization(kind, inverse, name):
  if kind == "gdn":
    return tfc.GDN(inverse=inverse, name=name)
  raise ValueError(f"unknown normalization {kind!r}")


@tf.keras.utils.register_keras_serializable(package="compressor")
class AnalysisTransform(tf.keras.Sequential):
  """Maps an image in [0, 1] to latents: conv + GDN stages, the last linear."""

  def __init__(self, num_filters, latent_channels, kernel_sizes, strides,
               normalization="gdn", name="analysis", **kwargs):
    super().__init__(name=name, **kwargs)
    self._settings = dict(
        num_filters=num_filters, latent_channels=latent_channels,
        kernel_sizes=list(kernel_sizes), strides=list(strides),
        normalization=normalization)
    last = len(strides) - 1
    for i, (kernel, stride) in enumerate(zip(kernel_sizes, strides)):
      self.add(tfc.SignalConv2D(
          latent_channels if i == last else num_filters, (kernel, kernel),
          corr=True, strides_down=stride, padding="same_zeros",
          use_bias=i != last, name=f"conv_{i}",
          activation=None if i == last else _normalization(
              normalization, inverse=False, name=f"gdn_{i}")))

  def get_config(self):
    return dict(name=self.name, **self._settings)

  @classmethod
  def from_config(cls, config, custom_objects=None):
    return cls(**config)


@tf.keras.utils.register_keras_serializable(package="compressor")
class SynthesisTransform(tf.keras.Sequential):
  """Maps latents back to an image in [0, 1]: the mirror image with IGDN."""

  def __init__(self, num_filters, kernel_sizes, strides, image_channels=3,
               normalization="gdn", name="synthesis", **kwargs):
    super().__init__(name=name, **kwargs)
    self._settings = dict(
        num_filters=num_filters, kernel_sizes=list(kernel_sizes),
        strides=list(strides), image_channels=image_channels,
        normalization=normalization)
    stages = list(zip(kernel_sizes, strides))[::-1]
    last = len(stages) - 1
    for i, (kernel, stride) in enumerate(stages):
      self.add(tfc.SignalConv2D(
          image_channels if i == last else num_filters, (kernel, kernel),
          corr=False, strides_up=stride, padding="same_zeros", use_bias=True,
          name=f"conv_{i}",
          activation=None if i == last else _normalization(
              normalization, inverse=True, name=f"igdn_{i}")))

  def get_config(self):
    return dict(name=self.name, **self._settings)

  @classmethod
  def from_config(cls, config, custom_objects=None):
    return cls(**config)
