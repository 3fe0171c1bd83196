"""The factorized-prior model of Ballé et al. (2017, 2018): a learned density per channel."""

import tensorflow as tf
import tensorflow_compression as tfc

from compressor.nn.bands import BAND_ROWS, band_bounds
from compressor.nn.base import (
  IMAGE_SPEC,
  SIZE_SPEC,
  STRING_SPEC,
  TENSOR_SPEC,
  CodecModel,
  coding_graph,
)
from compressor.nn.entropy_coding import (
  CODING_RANK,
  decode_factorized,
  decoded_bands,
  factorized_coder,
  factorized_coder_for,
  factorized_tables,
)
from compressor.nn.tiling import analyze_in_bands, rebanded

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

  def call(self, images, training=False, rounding_offsets=None):
    """Returns (reconstruction, bits per image) for a batch of [0, 255] images.

    With `rounding_offsets` (mixed quantization) the synthesis sees the latents
    rounded there, as the coder rounds them, with a straight-through gradient,
    while the rate stays that of the noisy latents.
    """
    latents = self.analysis(images / 255.0)
    latents_hat, bits = self.training_entropy_model(latents, training=training)
    if rounding_offsets is not None:
      latents_hat = tfc.round_st(latents, rounding_offsets)
    return self.synthesis(latents_hat) * 255.0, bits

  def rounding_offsets(self):
    """Where the coder rounds each channel: the prior's offsets, from a search over it.

    Too slow for every training step (a tenth of one), so the trainer refreshes them.
    """
    return tfc.quantization_offset(self.prior)  # What the coder's offset heuristic computes.

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
    return self.coders["latents"].quantize(self._latents(image))

  @coding_graph(input_signature=[IMAGE_SPEC])
  def _latents(self, image):
    return self.analysis(self._padded(image) / 255.0)

  @coding_graph(input_signature=[TENSOR_SPEC])
  def _compress_band(self, latents):
    return self.coders["latents"].compress(latents)[0]

  @coding_graph(input_signature=[STRING_SPEC, STRING_SPEC, SIZE_SPEC])
  def _decompress_band(self, string, padded, band_size):
    return decode_factorized(self.coders["latents"], string, padded, band_size,
                             self.config.latent_channels)

  def _range_encode(self, image):
    return self._coded([self._latents(image)])

  def _code_tensors(self, coded):
    (latents,) = coded
    return [[self._compress_band(latents[:, top:bottom])
             for top, bottom in band_bounds(latents.shape[1])]]

  def _range_encode_tiled(self, image, tile_size):
    """Codes each band of latent rows as soon as the tiles have made it.

    The bands are those of whole-image coding, so the payloads are too, up to
    the float rounding of the tiles' analysis.
    """
    bands = analyze_in_bands(self._analyze_tile, image, self.config, tile_size)
    strings = [self._compress_band(tf.constant(band[None])) for band in rebanded(bands, BAND_ROWS)]
    return [strings], self.coded_shapes(*image.shape[:2])

  def _latent_bands(self, payloads, shapes):
    """Yields the decoded latents [1, rows, w, C] band by band, each checked against its payload."""
    def decode_band(string, padded, top, bottom):
      return self._decompress_band(string, padded, (bottom - top, shapes[0][1]))
    return decoded_bands(payloads[0], shapes[0], decode_band, self.coders["latents"], "latent")

  def _decoded_latent_bands(self, payloads, shapes):
    for band in self._latent_bands(payloads, shapes):
      yield band[0].numpy()

  def _range_decode(self, payloads, shapes):
    return tf.concat(list(self._latent_bands(payloads, shapes)), axis=1)
