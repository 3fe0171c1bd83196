"""The scale hyperprior (Ballé et al. 2018) and mean-scale (Minnen et al. 2018) models."""

import math

import numpy as np
import tensorflow as tf
import tensorflow_compression as tfc

from compressor.errors import BitstreamError, ModelError
from compressor.nn.bands import band_bounds
from compressor.nn.base import (
  IMAGE_SPEC,
  SIZE_SPEC,
  STRING_SPEC,
  TENSOR_SPEC,
  CodecModel,
  coding_graph,
)
from compressor.nn.config import ceil_div
from compressor.nn.entropy_coding import (
  CODING_RANK,
  decode_factorized,
  decoded_bands,
  factorized_coder,
  factorized_coder_for,
  factorized_tables,
)
from compressor.nn.tiling import analyze_in_bands
from compressor.nn.transforms import (
  HYPER_DOWNSAMPLING,
  HyperAnalysisTransform,
  HyperSynthesisTransform,
  IntegerHyperSynthesisTransform,
  build_for_shape,
)

__all__ = [
    "LOG_SCALE_STEP",
    "MeanScaleHyperpriorModel",
    "NUM_SCALES",
    "scale_at",
    "ScaleHyperpriorModel",
]

# The hyperprior models code each latent under a Gaussian whose scale is one of
# 64 values spaced evenly in log from 0.11 to 256, as in TFC's bmshj2018 example.
NUM_SCALES = 64
_SCALE_MIN, _SCALE_MAX = 0.11, 256.0
LOG_SCALE_STEP = (math.log(_SCALE_MAX) - math.log(_SCALE_MIN)) / (NUM_SCALES - 1)


def scale_at(index):
  """The Gaussian scale at a position in the scale table (fractional while training)."""
  return tf.exp(math.log(_SCALE_MIN) + LOG_SCALE_STEP * index)


def _scale_index(log_scale):
  """The position of a scale, given as its natural log, in the scale table."""
  return (log_scale - math.log(_SCALE_MIN)) / LOG_SCALE_STEP


def _conditional_entropy_model(**kwargs):
  """Entropy model of latents given, per element, a scale index and a mean."""
  return tfc.LocationScaleIndexedEntropyModel(
      tfc.NoisyNormal, NUM_SCALES, scale_at, coding_rank=CODING_RANK, **kwargs)



class ScaleHyperpriorModel(CodecModel):
  """Ballé et al. (2018): latents coded as zero-mean Gaussians with scales from side information.

  The hyper-analysis maps the latents' magnitudes to side information, coded
  under a factorized prior. From the decoded side information the
  hyper-synthesis predicts, for every latent, an index into a fixed table of
  Gaussian scales. Those indexes must come out the same in the encoder and the
  decoder, so both derive them with one graph (`_entropy_parameters`) from the
  same integers, and round them there.
  """

  # The mean-scale model also predicts every latent's mean.
  _PREDICTS_MEANS = False

  def __init__(self, config, initialize=True, name="scale_hyperprior"):
    super().__init__(config, name=name)
    # An integer hyper-synthesis computes the scale indexes (and means) exactly,
    # from side information that is coded as plain integers (no offset).
    self.integer = config.hyper_synthesis == "integer"
    self.hyper_analysis = HyperAnalysisTransform(config.side_filters)
    if self.integer:
      self.hyper_synthesis = IntegerHyperSynthesisTransform(
          config.side_filters, config.latent_channels, NUM_SCALES, self._PREDICTS_MEANS,
          initial_index=_scale_index(0.0))
    else:
      parameters = config.latent_channels * (2 if self._PREDICTS_MEANS else 1)
      self.hyper_synthesis = HyperSynthesisTransform(config.side_filters, parameters)
    self.side_prior = tfc.NoisyDeepFactorized(batch_shape=(config.side_filters,))
    self.side_entropy_model = tfc.ContinuousBatchedEntropyModel(
        self.side_prior, coding_rank=CODING_RANK, compression=False,
        offset_heuristic=not self.integer)
    self.latent_entropy_model = _conditional_entropy_model(compression=False)
    self._create_weights(initialize)

  def _create_weights(self, initialize=True):
    latent_shape = super()._create_weights(initialize)
    side_shape = build_for_shape(self.hyper_analysis, latent_shape, initialize)
    if self.integer:
      # Cheap, and not a Sequential of the layers build_for_shape knows.
      self.hyper_synthesis(tf.zeros(side_shape))
    else:
      build_for_shape(self.hyper_synthesis, side_shape, initialize)
    return latent_shape

  def _hyper_input(self, latents):
    # Scales do not depend on the sign; means do.
    return latents if self._PREDICTS_MEANS else tf.abs(latents)

  def _parameters(self, side_latents, latent_size, exact=False):
    """The hyper-synthesis output, cropped: side information covers a multiple of 4 latents.

    `exact` runs an integer hyper-synthesis in its exact arithmetic, as coding
    does; a float one computes the same either way.
    """
    if self.integer:
      parameters = self.hyper_synthesis(side_latents, exact=exact)
    else:
      parameters = self.hyper_synthesis(side_latents)
    return parameters[:, :latent_size[0], :latent_size[1]]

  def _conditionals(self, parameters, training):
    """(scale indexes, means or None for zero) of the latents' Gaussians.

    The hyper-synthesis predicts log scales: one unit is a factor e, which
    training moves much faster than one step of the table (a factor 1.13),
    and an untrained model starts at scale 1. The range coder takes integer
    indexes; rounding them in every hard path, not only in the coder, keeps
    the rate estimates equal to what it codes.
    """
    if self._PREDICTS_MEANS:
      means, log_scales = tf.split(parameters, 2, axis=-1)
    else:
      means, log_scales = None, parameters
    if self.integer:  # Already integer indexes (rounded straight-through in training).
      return log_scales, means
    indexes = _scale_index(log_scales)
    return (indexes if training else tf.round(indexes)), means

  def call(self, images, training=False, rounding_offsets=None):
    """Returns (reconstruction, bits per image: latents plus side information).

    With `rounding_offsets` (mixed quantization) the synthesis sees the latents
    rounded there relative to their means, as the coder rounds them, with a
    straight-through gradient, while the rate stays that of the noisy latents.
    """
    latents = self.analysis(images / 255.0)
    side_hat, side_bits = self.side_entropy_model(
        self.hyper_analysis(self._hyper_input(latents)), training=training)
    parameters = self._parameters(side_hat, tf.shape(latents)[1:3], exact=not training)
    indexes, means = self._conditionals(parameters, training)
    latents_hat, bits = self.latent_entropy_model(latents, indexes, loc=means,
                                                  training=training)
    if rounding_offsets is not None:
      centers = rounding_offsets if means is None else means + rounding_offsets
      latents_hat = tfc.round_st(latents, centers)
    return self.synthesis(latents_hat) * 255.0, bits + side_bits

  def rounding_offsets(self):
    """Zeros: the coder rounds the latents at their means (at integers without means)."""
    return tf.zeros([self.config.latent_channels])

  def _parts(self):
    return super()._parts() + [("hyper_analysis", self.hyper_analysis),
                               ("hyper_synthesis", self.hyper_synthesis),
                               ("side_prior", self.side_prior)]

  def coded_shapes(self, height, width):
    """[side information shape, latent shape] for an image of this size."""
    latent_height, latent_width = self.config.latent_size(height, width)
    side = (ceil_div(latent_height, HYPER_DOWNSAMPLING),
            ceil_div(latent_width, HYPER_DOWNSAMPLING), self.config.side_filters)
    return [side, (latent_height, latent_width, self.config.latent_channels)]

  def build_coding_tables(self):
    """Derives both coders' integer tables: the side prior's and the scale table's."""
    self._install_coders(
        {"side": factorized_coder_for(self.side_prior, self.config.side_filters,
                                      offset_heuristic=not self.integer),
         "latents": _conditional_entropy_model(compression=True, stateless=False)})

  def coding_tables(self):
    """Both coders' tables as numpy arrays, for saving next to the weights."""
    tables = {f"side/{k}": v for k, v in factorized_tables(self.coders["side"]).items()}
    latents = self.coders["latents"]
    tables["latents/cdf"] = latents.cdf.numpy()
    tables["latents/cdf_offset"] = latents.cdf_offset.numpy()
    return tables

  def set_coding_tables(self, tables):
    """Uses saved tables, so decoding never depends on recomputing them."""
    if len(tables["latents/cdf_offset"]) != NUM_SCALES:
      raise ModelError(f"the saved scale table has {len(tables['latents/cdf_offset'])} "
                       f"entries; this build uses {NUM_SCALES}")
    side = {k[len("side/"):]: v for k, v in tables.items() if k.startswith("side/")}
    latents = _conditional_entropy_model(compression=True, stateless=False)
    # TFC 2.14's indexed models take no tables in their constructor; the saved
    # ones replace those it has just computed.
    latents.set_weights([tables["latents/cdf"], tables["latents/cdf_offset"]])
    self._install_coders({"side": factorized_coder(side, self.config.side_filters),
                          "latents": latents})

  @coding_graph(input_signature=[IMAGE_SPEC])
  def _analyze(self, image):
    """Latents and quantized side information (what the decoder will decode) of an image."""
    latents = self.analysis(self._padded(image) / 255.0)
    return latents, self._side_information(latents)

  @coding_graph(input_signature=[TENSOR_SPEC])
  def _side_information(self, latents):
    return self.coders["side"].quantize(self.hyper_analysis(self._hyper_input(latents)))

  @coding_graph(input_signature=[TENSOR_SPEC, SIZE_SPEC])
  def _entropy_parameters(self, side_latents, latent_size):
    """The one graph that derives the latents' entropy parameters from side information.

    The encoder runs it on its quantized side information, the decoder on the
    decoded one; these are the same numbers, so on one machine both get
    bit-identical parameters. It is a graph of its own, not inlined into a
    larger one, so that graph optimizations cannot treat the two sides apart.
    """
    return self._parameters(side_latents, latent_size, exact=True)

  @coding_graph(input_signature=[TENSOR_SPEC])
  def _compress_side(self, side_latents):
    return self.coders["side"].compress(side_latents)[0]

  @coding_graph(input_signature=[STRING_SPEC, STRING_SPEC, SIZE_SPEC])
  def _decompress_side(self, string, padded, side_size):
    return decode_factorized(self.coders["side"], string, padded, side_size,
                              self.config.side_filters)

  @coding_graph(input_signature=[TENSOR_SPEC, TENSOR_SPEC])
  def _compress_latents(self, latents, parameters):
    indexes, means = self._conditionals(parameters, training=False)
    return self.coders["latents"].compress(latents, indexes, loc=means)[0]

  @coding_graph(input_signature=[STRING_SPEC, STRING_SPEC, TENSOR_SPEC])
  def _decompress_latents(self, string, padded, parameters):
    """(latents, whether they code back to exactly `string`), as TFC's decompress decodes."""
    indexes, means = self._conditionals(parameters, training=False)
    coder = self.coders["latents"]
    # TFC 2.14 (its last release) clamps and flattens the indexes with these.
    indexes = coder._flatten_indexes(coder._normalize_indexes(indexes))  # pylint: disable=W0212
    handle = tfc.create_range_decoder(padded[None], coder.cdf)
    _, symbols = tfc.entropy_decode_index(handle, indexes, tf.shape(indexes)[1:],
                                          coder.cdf_offset.dtype)
    encoder = tfc.entropy_encode_index(tfc.create_range_encoder([1], coder.cdf), indexes,
                                       symbols)
    whole = tf.equal(tfc.entropy_encode_finalize(encoder)[0], string)
    latents = tf.cast(symbols + tf.gather(coder.cdf_offset, indexes), tf.float32)
    return (latents if means is None else latents + means), whole

  @coding_graph(input_signature=[TENSOR_SPEC, TENSOR_SPEC])
  def _quantize_latents(self, latents, parameters):
    _, means = self._conditionals(parameters, training=False)
    return self.coders["latents"].quantize(latents, loc=means)

  def _range_encode(self, image):
    latents, side = self._analyze(image)
    return self._coded([side, latents])

  def _range_encode_tiled(self, image, tile_size):
    """Analyzes in tiles; the side information and coding work on the whole latent map.

    Memory still grows with the image here, by the latent map (channels / 256
    floats a pixel), but no longer by the transforms' activations.
    """
    latents = np.concatenate(list(
        analyze_in_bands(self._analyze_tile, image, self.config, tile_size)))
    latents = tf.constant(latents[None])
    return self._coded([self._side_information(latents), latents])

  def _code_tensors(self, coded):
    side, latents = coded
    parameters = self._entropy_parameters(side, tf.shape(latents)[1:3])
    return [[self._compress_side(side[:, top:bottom])
             for top, bottom in band_bounds(side.shape[1])],
            [self._compress_latents(latents[:, top:bottom], parameters[:, top:bottom])
             for top, bottom in band_bounds(latents.shape[1])]]

  def _range_decode_side(self, payloads, shape):
    """The side information the payloads code; BitstreamError if they code anything else."""
    def decode_band(string, padded, top, bottom):
      return self._decompress_side(string, padded, (bottom - top, shape[1]))
    return tf.concat(list(decoded_bands(payloads, shape, decode_band, self.coders["side"],
                                        "side information")), axis=1)

  def _range_decode(self, payloads, shapes):
    side = self._range_decode_side(payloads[0], shapes[0])
    parameters = self._entropy_parameters(side, shapes[1][:2])
    return self._range_decode_latents(payloads[1], shapes[1], parameters)

  def _range_decode_latents(self, payloads, shape, parameters):
    """The latents the payloads code under the entropy parameters of the decoded side."""
    def decode_band(string, padded, top, bottom):
      return self._decompress_latents(string, padded, parameters[:, top:bottom])
    try:
      return tf.concat(list(decoded_bands(payloads, shape, decode_band,
                                          self.coders["latents"], "latent")), axis=1)
    except tf.errors.InvalidArgumentError as e:
      # Corrupt side information can give scale indexes outside the table.
      raise BitstreamError(
          f"latent payload cannot be decoded: {e.message.splitlines()[0]}") from None

  def _decoded_latent_bands(self, payloads, shapes):
    yield self._range_decode(payloads, shapes)[0].numpy()

  def _hard_latents(self, image):
    latents, side = self._analyze(image)
    parameters = self._entropy_parameters(side, tf.shape(latents)[1:3])
    return self._quantize_latents(latents, parameters)


class MeanScaleHyperpriorModel(ScaleHyperpriorModel):
  """Minnen et al. (2018) without the context model: side information gives means too.

  The hyper-analysis sees the latents themselves, and the hyper-synthesis
  predicts a mean and a scale index for every latent. A mean that differed
  between machines would shift the reconstruction slightly; only the scale
  indexes can desynchronize the range decoder.
  """

  _PREDICTS_MEANS = True

  def __init__(self, config, initialize=True):
    super().__init__(config, initialize, name="mean_scale_hyperprior")
