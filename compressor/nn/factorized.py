"""The factorized-prior model of Ballé et al. (2017, 2018): a learned density per channel."""

import math

import tensorflow as tf
import tensorflow_compression as tfc

from compressor.nn.base import IMAGE_SPEC, SIZE_SPEC, STRING_SPEC, CodecModel, coding_graph
from compressor.nn.entropy_coding import (
  CODING_RANK,
  check_whole,
  decode_factorized,
  decoder_input,
  factorized_coder,
  factorized_coder_for,
  factorized_tables,
)
from compressor.nn.tiling import analyze_in_bands

__all__ = [
    "FactorizedPriorModel",
]

class FactorizedPriorModel(CodecModel):
  """Analysis transform, factorized entropy bottleneck, synthesis transform.

  Training (`call`) adds uniform noise to the latents and returns the
  differentiable rate. The latents are the one coded tensor.
  """

  def __init__(self, config, initialize=True):
    super().__init__(config, name="factorized_prior")
    self.prior = tfc.NoisyDeepFactorized(batch_shape=(config.latent_channels,))
    self.training_entropy_model = tfc.ContinuousBatchedEntropyModel(
        self.prior, coding_rank=CODING_RANK, compression=False)
    self._create_weights(initialize)

  def call(self, images, training=False):
    """Returns (reconstruction, bits per image) for a batch of [0, 255] images."""
    latents = self.analysis(images / 255.0)
    latents_hat, bits = self.training_entropy_model(latents, training=training)
    return self.synthesis(latents_hat) * 255.0, bits

  def _parts(self):
    return super()._parts() + [("prior", self.prior)]

  def coded_shapes(self, height, width):
    """[latent shape] for an image of this size."""
    return [self.config.latent_size(height, width) + (self.config.latent_channels,)]

  def build_coding_tables(self):
    """Derives the range coder's integer tables from the prior (after training)."""
    self._install_coders(
        {"latents": factorized_coder_for(self.prior, self.config.latent_channels)})

  def coding_tables(self):
    """The coder's tables as numpy arrays, for saving next to the weights."""
    return factorized_tables(self.coders["latents"])

  def set_coding_tables(self, tables):
    """Uses saved tables, so decoding never depends on recomputing them."""
    self._install_coders({"latents": factorized_coder(tables, self.config.latent_channels)})

  @coding_graph(input_signature=[IMAGE_SPEC])
  def _hard_latents(self, image):
    return self.coders["latents"].quantize(self.analysis(self._padded(image) / 255.0))

  @coding_graph(input_signature=[IMAGE_SPEC])
  def _compress(self, image):
    latents = self.analysis(self._padded(image) / 255.0)
    return self.coders["latents"].compress(latents)[0], tf.shape(latents)[1:]

  @coding_graph(input_signature=[STRING_SPEC, STRING_SPEC, SIZE_SPEC])
  def _decompress(self, string, padded, latent_size):
    return decode_factorized(self.coders["latents"], string, padded, latent_size,
                              self.config.latent_channels)

  def _range_encode(self, image):
    string, shape = self._compress(image)
    return [string], [shape]

  def _range_decode(self, strings, shapes):
    padded = decoder_input(strings[0], math.prod(shapes[0]), self.coders["latents"])
    latents, whole = self._decompress(tf.constant(strings[0]), padded, shapes[0][:2])
    check_whole(whole, "latent")
    return latents

  def _range_encode_tiled(self, image, tile_size):
    """Codes the latents band by band into one string: the string whole-image coding makes.

    The range coder codes the latents in row-major order, so appending bands
    of rows gives the same bits as coding all rows at once (see TFC's
    ContinuousBatchedEntropyModel.compress), while holding only one band.
    """
    coder = self.coders["latents"]
    offset = coder.quantization_offset
    handle = tfc.create_range_encoder([1], coder.cdf)
    for band in analyze_in_bands(self._analyze_tile, image, self.config, tile_size):
      band = tf.constant(band[None])
      if offset is not None:
        band -= offset
      symbols = tf.cast(tf.round(band), tf.int32) - coder.cdf_offset
      handle = tfc.entropy_encode_channel(handle, symbols)
    shape = self.coded_shapes(*image.shape[:2])[0]
    return [tfc.entropy_encode_finalize(handle)[0]], [shape]

  def _decoded_latent_bands(self, strings, shapes, tile_size):
    """Yields the decoded latents in bands of rows, then checks that the string was whole.

    Each band is also re-encoded, into one string that must be the payload.
    """
    coder = self.coders["latents"]
    offset = coder.quantization_offset
    height, width, channels = shapes[0]
    rows = max(tile_size // self.config.downsampling, 1)
    padded = decoder_input(strings[0], math.prod(shapes[0]), coder)
    handle = tfc.create_range_decoder(padded[None], coder.cdf)
    encoder = tfc.create_range_encoder([1], coder.cdf)
    for top in range(0, height, rows):
      handle, symbols = tfc.entropy_decode_channel(
          handle, [min(rows, height - top), width, channels], coder.cdf_offset.dtype)
      encoder = tfc.entropy_encode_channel(encoder, symbols)
      band = tf.cast(symbols[0] + coder.cdf_offset, tf.float32)
      yield (band if offset is None else band + offset).numpy()
    check_whole(tfc.entropy_encode_finalize(encoder)[0] == strings[0], "latent")
