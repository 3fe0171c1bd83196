"""Codec models and their registry: the factorized-prior model of Ballé et al."""

import numpy as np
import tensorflow as tf
import tensorflow_compression as tfc

from compressor.config import ModelConfig
from compressor.errors import ModelError
from compressor.transforms import AnalysisTransform, SynthesisTransform

__all__ = ["FactorizedPriorModel", "MODEL_CLASSES", "create_model", "pad_to_multiple"]

_IMAGE_SPEC = tf.TensorSpec([None, None, 3], tf.uint8)
# Entropy coding is per image: the latent (height, width, channels) is one unit.
_CODING_RANK = 3


def pad_to_multiple(image, factor):
  """Repeats the last row and column of an HxWxC tensor up to multiples of factor."""
  shape = tf.shape(image)
  padded_height = -(-shape[0] // factor) * factor
  padded_width = -(-shape[1] // factor) * factor
  rows = tf.minimum(tf.range(padded_height), shape[0] - 1)
  cols = tf.minimum(tf.range(padded_width), shape[1] - 1)
  return tf.gather(tf.gather(image, rows, axis=0), cols, axis=1)


def _to_pixels(reconstruction, height, width):
  """Crops a [0, 1] float reconstruction and rounds it to 8-bit pixels."""
  pixels = tf.clip_by_value(reconstruction[:height, :width] * 255.0, 0.0, 255.0)
  return tf.cast(tf.round(pixels), tf.uint8)


class FactorizedPriorModel(tf.keras.Model):
  """Analysis transform, factorized entropy bottleneck, synthesis transform.

  Training (`call`) adds uniform noise to the latents and returns the
  differentiable rate. For coding, the range-coding tables are built once from
  the learned prior (`build_coding_tables`) or loaded with the weights
  (`set_coding_tables`); encoder and decoder then share exactly those tables.
  """

  def __init__(self, config, **kwargs):
    super().__init__(name="factorized_prior", **kwargs)
    self.config = config
    self.analysis = AnalysisTransform(
        config.num_filters, config.latent_channels, config.kernel_sizes,
        config.strides, normalization=config.normalization)
    self.synthesis = SynthesisTransform(
        config.num_filters, config.kernel_sizes, config.strides,
        normalization=config.normalization)
    self.prior = tfc.NoisyDeepFactorized(batch_shape=(config.latent_channels,))
    self.training_entropy_model = tfc.ContinuousBatchedEntropyModel(
        self.prior, coding_rank=_CODING_RANK, compression=False)
    self._coder = None
    # Identity of a saved model, set by compressor.store; bitstreams carry both.
    self.model_name = None
    self.fingerprint = None
    self.metadata = {}
    factor = config.downsampling
    self(tf.zeros((1, factor, factor, 3)), training=False)

  def call(self, images, training=False):
    """Returns (reconstruction, bits per image) for a batch of [0, 255] images."""
    latents = self.analysis(images / 255.0)
    latents_hat, bits = self.training_entropy_model(latents, training=training)
    return self.synthesis(latents_hat) * 255.0, bits

  # Range coding.

  @property
  def coder(self):
    if self._coder is None:
      raise ModelError("the model has no range-coding tables; export it first")
    return self._coder

  def build_coding_tables(self):
    """Derives the range coder's integer tables from the prior (after training)."""
    self._coder = tfc.ContinuousBatchedEntropyModel(
        self.prior, coding_rank=_CODING_RANK, compression=True, stateless=True)

  def coding_tables(self):
    """The coder's tables as numpy arrays, for saving next to the weights."""
    tables = {"cdf": self.coder.cdf.numpy(),
              "cdf_offset": self.coder.cdf_offset.numpy()}
    if self.coder.quantization_offset is not None:
      tables["quantization_offset"] = self.coder.quantization_offset.numpy()
    return tables

  def set_coding_tables(self, tables):
    """Uses saved tables, so decoding never depends on recomputing them."""
    offset = tables.get("quantization_offset")
    self._coder = tfc.ContinuousBatchedEntropyModel(
        prior_shape=(self.config.latent_channels,), coding_rank=_CODING_RANK,
        compression=True, stateless=True, cdf=tables["cdf"],
        cdf_offset=tables["cdf_offset"],
        quantization_offset=None if offset is None else tf.constant(offset))

  @tf.function(input_signature=[_IMAGE_SPEC])
  def _quantized_latents(self, image):
    padded = pad_to_multiple(tf.cast(image, tf.float32), self.config.downsampling)
    return self.coder.quantize(self.analysis(padded[None] / 255.0))[0]

  @tf.function(input_signature=[tf.TensorSpec([None, None, None], tf.float32),
                                tf.TensorSpec([], tf.int32),
                                tf.TensorSpec([], tf.int32)])
  def _synthesize(self, latents, height, width):
    return _to_pixels(self.synthesis(latents[None])[0], height, width)

  @tf.function(input_signature=[_IMAGE_SPEC])
  def _encode(self, image):
    latents = self._quantized_latents(image)
    return self.coder.compress(latents[None])[0], tf.shape(latents)

  @tf.function(input_signature=[tf.TensorSpec([], tf.string),
                                tf.TensorSpec([2], tf.int32)])
  def _decode_latents(self, string, latent_size):
    return self.coder.decompress(string[None], latent_size)[0]

  def encode(self, image):
    """Range-codes an HxWx3 uint8 image; returns (bytes, latent shape)."""
    string, shape = self._encode(image)
    return string.numpy(), tuple(int(d) for d in shape)

  def decode(self, string, latent_shape, height, width):
    """Decodes bytes from `encode` to an HxWx3 uint8 image."""
    if tuple(latent_shape[2:]) != (self.config.latent_channels,):
      raise ModelError(
          f"latents have {latent_shape[2]} channels, the model "
          f"{self.config.latent_channels}")
    latents = self._decode_latents(tf.constant(string), latent_shape[:2])
    return self._synthesize(latents, height, width).numpy()

  def reconstruct(self, image):
    """The forward pass with hard quantization, as 8-bit pixels (no coding)."""
    latents = self._quantized_latents(image)
    height, width = image.shape[:2]
    return self._synthesize(latents, height, width).numpy()

  def estimate_bits(self, image):
    """-log2 likelihood of the quantized latents under the prior: ideal code length."""
    latents = self._quantized_latents(image)
    return float(-tf.reduce_sum(self.prior.log_prob(latents)) / np.log(2.0))

  # Weights, in a stable order for saving and fingerprinting.

  def named_weights(self):
    arrays = {}
    for part, values in (("analysis", self.analysis.get_weights()),
                         ("synthesis", self.synthesis.get_weights()),
                         ("prior", [v.numpy() for v in self.prior.variables])):
      for i, value in enumerate(values):
        arrays[f"{part}/{i:03d}"] = value
    return arrays

  def set_named_weights(self, arrays):
    expected = self.named_weights()
    if sorted(arrays) != sorted(expected):
      raise ModelError("saved weights do not match the model's architecture")
    for name, value in expected.items():
      if arrays[name].shape != value.shape:
        raise ModelError(
            f"weight {name} has shape {arrays[name].shape}, expected {value.shape}")
    def part(prefix):
      return [arrays[k] for k in sorted(arrays) if k.startswith(prefix + "/")]
    self.analysis.set_weights(part("analysis"))
    self.synthesis.set_weights(part("synthesis"))
    for variable, value in zip(self.prior.variables, part("prior")):
      variable.assign(value)


MODEL_CLASSES = {"factorized": FactorizedPriorModel}


def create_model(config):
  """Instantiates the registered model class named by config.architecture."""
  if not isinstance(config, ModelConfig):
    config = ModelConfig.from_dict(config)
  try:
    model_class = MODEL_CLASSES[config.architecture]
  except KeyError:
    raise ModelError(
        f"unknown architecture {config.architecture!r}; "
        f"known: {', '.join(sorted(MODEL_CLASSES))}") from None
  return model_class(config)
