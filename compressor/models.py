"""Codec models and their registry: the factorized prior and the two hyperprior models."""

import functools
import math
import zlib

import numpy as np
import tensorflow as tf
import tensorflow_compression as tfc

from compressor.config import ModelConfig
from compressor.errors import BitstreamError, ModelError
from compressor.tiling import DEFAULT_TILE_SIZE, analyze_in_bands, synthesize_in_bands, tiles_needed
from compressor.transforms import (
  HYPER_DOWNSAMPLING,
  AnalysisTransform,
  HyperAnalysisTransform,
  HyperSynthesisTransform,
  SynthesisTransform,
)

__all__ = [
    "FactorizedPriorModel",
    "MODEL_CLASSES",
    "MeanScaleHyperpriorModel",
    "ScaleHyperpriorModel",
    "create_model",
    "pad_to_multiple",
]

_IMAGE_SPEC = tf.TensorSpec([None, None, 3], tf.uint8)
# A batch of one: latents, side information or entropy parameters.
_TENSOR_SPEC = tf.TensorSpec([1, None, None, None], tf.float32)
_STRING_SPEC = tf.TensorSpec([], tf.string)
_SIZE_SPEC = tf.TensorSpec([2], tf.int32)
# Entropy coding is per image: the latent (height, width, channels) is one unit.
_CODING_RANK = 3
# The hyperprior models code each latent under a Gaussian whose scale is one of
# 64 values spaced evenly in log from 0.11 to 256, as in TFC's bmshj2018 example.
_NUM_SCALES = 64
_SCALE_MIN, _SCALE_MAX = 0.11, 256.0
_LOG_SCALE_STEP = (math.log(_SCALE_MAX) - math.log(_SCALE_MIN)) / (_NUM_SCALES - 1)

# The coding graphs branch in Python only on what is known when tracing, so
# AutoGraph has nothing to convert; converting every layer's call anyway was
# most of a cold start's first trace. A branch on a tensor would fail loudly.
_coding_graph = functools.partial(tf.function, autograph=False)


def pad_to_multiple(image, factor):
  """Repeats the last row and column of an HxWxC tensor up to multiples of factor."""
  shape = tf.shape(image)
  padded_height = -(-shape[0] // factor) * factor
  padded_width = -(-shape[1] // factor) * factor
  rows = tf.minimum(tf.range(padded_height), shape[0] - 1)
  cols = tf.minimum(tf.range(padded_width), shape[1] - 1)
  return tf.gather(tf.gather(image, rows, axis=0), cols, axis=1)


def _to_pixels(reconstruction):
  """Rounds a [0, 1] float reconstruction to 8-bit pixels."""
  return tf.cast(tf.round(tf.clip_by_value(reconstruction * 255.0, 0.0, 255.0)), tf.uint8)


def _cropped(pixels, height, width):
  """The image's own pixels of a padded reconstruction, as a contiguous array."""
  return np.ascontiguousarray(pixels.numpy()[:height, :width])


def _scale(index):
  """The Gaussian scale at a position in the scale table (fractional while training)."""
  return tf.exp(math.log(_SCALE_MIN) + _LOG_SCALE_STEP * index)


def _scale_index(log_scale):
  """The position of a scale, given as its natural log, in the scale table."""
  return (log_scale - math.log(_SCALE_MIN)) / _LOG_SCALE_STEP


def _conditional_entropy_model(**kwargs):
  """Entropy model of latents given, per element, a scale index and a mean."""
  return tfc.LocationScaleIndexedEntropyModel(
      tfc.NoisyNormal, _NUM_SCALES, _scale, coding_rank=_CODING_RANK, **kwargs)


def _factorized_coder(tables, channels):
  """Range coder for a factorized prior, from its tables."""
  offset = tables.get("quantization_offset")
  return tfc.ContinuousBatchedEntropyModel(
      prior_shape=(channels,), coding_rank=_CODING_RANK, compression=True, stateless=True,
      cdf=tables["cdf"], cdf_offset=tables["cdf_offset"],
      quantization_offset=None if offset is None else tf.constant(offset))


def _factorized_coder_for(prior, channels):
  """Range coder for a factorized prior, its tables derived from the prior once, here."""
  def derive_tables():
    coder = tfc.ContinuousBatchedEntropyModel(
        prior, coding_rank=_CODING_RANK, compression=True, stateless=True)
    return {"cdf": coder.cdf, "cdf_offset": coder.cdf_offset,
            "quantization_offset": coder.quantization_offset}
  # In a graph: eagerly, the search for the prior's tails takes ten times longer.
  return _factorized_coder(tf.function(derive_tables)(), channels)


# Zero bytes after a payload: a valid payload leaves its last zeros implicit
# (TFC's range decoder reads zeros past the end), usually 2 to 6 of them.
_IMPLICIT_ZEROS = 64
# Bytes of padding deflated at a time.
_PADDING_BLOCK = 1 << 20


def _decoder_input(string, num_values, coder):
  """A payload followed by padding that bounds the range decoder's work on any input.

  TFC's decoder reads zeros past its input, and on zeros the unary prefix of
  an escape code can go on forever. Here it reads the zeros a valid payload
  leaves implicit, then 0xFF bytes. On those a prefix has at most 32 zeros, so
  a value takes at most 67 bits for an escape code and precision + 1 for its
  symbol (32 at precision 16). There are enough for every value, plus the
  rest of an escape code begun before them, whose prefix is at most the bits
  before them. See docs/robustness.md, "Corrupt payloads cannot hang the decoder".
  """
  precision = int(coder.range_coder_precision)
  bits = 67 + (precision + 1 if precision < 16 else 32)
  ones = -(-num_values * bits // 8) + (len(string) + _IMPLICIT_ZEROS) * 1001 // 1000 + 64
  # Inflated inside TensorFlow from a zlib stream of a few kB a megabyte: the
  # padding (10 bytes a value, 0.5 GB at 100 MP) then exists once, where
  # Python's bytes and tf.constant held about five copies while building it.
  # After a full flush deflate starts afresh, so every block of 0xFF bytes
  # deflates to the same segment: it is deflated once and repeated, and the
  # stream's Adler-32 is that of everything it inflates to.
  block = b"\xff" * min(ones, _PADDING_BLOCK)
  repeats, rest = divmod(ones, len(block))
  prefix = string + bytes(_IMPLICIT_ZEROS)
  deflater = zlib.compressobj(1)
  head = deflater.compress(prefix) + deflater.flush(zlib.Z_FULL_FLUSH)
  segment = deflater.compress(block) + deflater.flush(zlib.Z_FULL_FLUSH)
  tail = deflater.compress(block[:rest]) + deflater.flush()
  checksum = zlib.adler32(prefix)
  for _ in range(repeats):
    checksum = zlib.adler32(block, checksum)
  checksum = zlib.adler32(block[:rest], checksum)
  stream = head + segment * repeats + tail[:-4] + checksum.to_bytes(4, "big")
  return tf.io.decode_compressed(stream, compression_type="ZLIB")


def _check_whole(whole, what):
  """Refuses a payload that is not exactly the coding of what was decoded from it."""
  if not bool(whole):
    raise BitstreamError(f"{what} payload is corrupt: it does not code the values it decodes to")


def _decode_factorized(coder, string, padded, size, channels):
  """(values [1, h, w, channels], whether they code back to exactly `string`).

  Re-encoding is what proves that the decoder read the payload and no padding,
  and it costs a fraction of the decoding.
  """
  handle = tfc.create_range_decoder(padded[None], coder.cdf)
  _, symbols = tfc.entropy_decode_channel(
      handle, tf.concat([size, [channels]], 0), coder.cdf_offset.dtype)
  encoder = tfc.entropy_encode_channel(tfc.create_range_encoder([1], coder.cdf), symbols)
  whole = tf.equal(tfc.entropy_encode_finalize(encoder)[0], string)
  values = tf.cast(symbols + coder.cdf_offset, tf.float32)
  offset = coder.quantization_offset
  return (values if offset is None else values + offset), whole


def _factorized_tables(coder):
  tables = {"cdf": coder.cdf.numpy(), "cdf_offset": coder.cdf_offset.numpy()}
  if coder.quantization_offset is not None:
    tables["quantization_offset"] = coder.quantization_offset.numpy()
  return tables


class _CodecModel(tf.keras.Model):
  """What every codec model shares: the transforms, its identity and the coding API.

  Subclasses add entropy models and define `call` (for training: noisy latents
  and a differentiable rate), `coded_shapes`, the coding-table methods,
  `_parts`, and the graphs behind `_range_encode`, `_range_decode` and
  `_hard_latents`. Coding uses only tables built once from the learned priors
  (`build_coding_tables`, at export) or loaded with the weights
  (`set_coding_tables`), so encoder and decoder share exactly those tables.
  """

  def __init__(self, config, name):
    super().__init__(name=name)
    self.config = config
    self.analysis = AnalysisTransform(
        config.num_filters, config.latent_channels, config.kernel_sizes,
        config.strides, normalization=config.normalization)
    self.synthesis = SynthesisTransform(
        config.num_filters, config.kernel_sizes, config.strides,
        normalization=config.normalization)
    self._coders = None
    # Identity of a saved model, set by compressor.store; bitstreams carry both.
    self.model_name = None
    self.fingerprint = None
    self.metadata = {}

  def _create_weights(self):
    """Runs a dummy image through the model, so that every weight exists."""
    factor = self.config.downsampling
    self(tf.zeros((1, factor, factor, 3)), training=False)

  def _padded(self, image):
    """An HxWx3 uint8 image as a float batch of one, padded to the transform's multiple."""
    return pad_to_multiple(tf.cast(image, tf.float32), self.config.downsampling)[None]

  # Range coding.

  @property
  def has_coding_tables(self):
    return self._coders is not None

  def _install_coders(self, coders):
    # The coding graphs capture the tables as constants when first traced, so
    # tables replaced later would silently go unused: a model gets them once.
    if self._coders is not None:
      raise ModelError("the model has coding tables already; create a new model instead")
    self._coders = coders

  @property
  def coders(self):
    """The range coders by name, made from the coding tables."""
    if self._coders is None:
      raise ModelError("the model has no range-coding tables; export it first")
    return self._coders

  @_coding_graph(input_signature=[_IMAGE_SPEC])
  def _analyze_tile(self, tile):
    return self.analysis(tf.cast(tile, tf.float32)[None] / 255.0)

  @_coding_graph(input_signature=[_TENSOR_SPEC])
  def _synthesize(self, latents):
    """8-bit pixels of [1, h, w, C] latents, uncropped: a whole padded image or one tile."""
    return _to_pixels(self.synthesis(latents)[0])

  def encode(self, image, tile_size=DEFAULT_TILE_SIZE):
    """Range-codes an HxWx3 uint8 image; returns (payloads, shapes), one per coded tensor.

    The order is the decoding order: side information before the latents it
    describes. An image larger than `tile_size` (None: never) is analyzed in
    tiles, which gives the same latents up to float rounding.
    """
    height, width = image.shape[:2]
    if tiles_needed(self.config, height, width, tile_size):
      strings, shapes = self._range_encode_tiled(image, tile_size)
    else:
      strings, shapes = self._range_encode(image)
    return ([bytes(string.numpy()) for string in strings],
            [tuple(int(d) for d in shape) for shape in shapes])

  def decode(self, strings, shapes, height, width, tile_size=DEFAULT_TILE_SIZE):
    """Decodes the payloads and shapes from `encode` to an HxWx3 uint8 image.

    An image larger than `tile_size` (None: never) is synthesized in tiles.
    """
    pixels = np.empty((height, width, 3), np.uint8)
    top = 0
    for band in self.decode_bands(strings, shapes, height, width, tile_size):
      pixels[top:top + len(band)] = band
      top += len(band)
    return pixels

  def decode_bands(self, strings, shapes, height, width, tile_size=DEFAULT_TILE_SIZE):
    """As `decode`, but yields the image as bands of rows, top to bottom.

    Tiled, memory stays one band of tiles whatever the image; otherwise the
    whole image is one band. The payload is known whole only when the
    iterator is exhausted: the last step raises BitstreamError if it was not,
    after the last band, so a consumer must not commit the output before then.
    """
    shapes = [tuple(shape) for shape in shapes]
    expected = self.coded_shapes(height, width)
    if shapes != expected or len(strings) != len(expected):
      raise ModelError(
          f"{len(strings)} payloads of shapes {shapes} do not fit a {width}x{height} "
          f"image under this model (expected shapes {expected})")
    if not tiles_needed(self.config, height, width, tile_size):
      yield _cropped(self._synthesize(self._range_decode(strings, shapes)), height, width)
      return
    bands = self._decoded_latent_bands(strings, shapes, tile_size)
    yield from synthesize_in_bands(self._synthesize, bands, self.config, height, width,
                                   tile_size)
    for _ in bands:  # Runs the decoder's final check.
      pass

  def reconstruct(self, image):
    """The forward pass with hard quantization, as 8-bit pixels (no coding)."""
    height, width = image.shape[:2]
    return _cropped(self._synthesize(self._hard_latents(image)), height, width)

  def estimate_bits(self, image):
    """The entropy models' rate of an image under hard quantization: the ideal code length."""
    _, bits = self(self._padded(image), training=False)
    return float(bits[0])

  # Weights, in a stable order for saving and fingerprinting.

  def _parts(self):
    """(name, module) of every part with weights; the names prefix the saved arrays."""
    return [("analysis", self.analysis), ("synthesis", self.synthesis)]

  def named_weights(self):
    return {f"{name}/{i:03d}": variable.numpy()
            for name, part in self._parts() for i, variable in enumerate(part.variables)}

  def set_named_weights(self, arrays):
    expected = self.named_weights()
    if sorted(arrays) != sorted(expected):
      raise ModelError("saved weights do not match the model's architecture")
    for name, value in expected.items():
      if arrays[name].shape != value.shape:
        raise ModelError(
            f"weight {name} has shape {arrays[name].shape}, expected {value.shape}")
    for name, part in self._parts():
      for i, variable in enumerate(part.variables):
        variable.assign(arrays[f"{name}/{i:03d}"])


class FactorizedPriorModel(_CodecModel):
  """Analysis transform, factorized entropy bottleneck, synthesis transform.

  Training (`call`) adds uniform noise to the latents and returns the
  differentiable rate. The latents are the one coded tensor.
  """

  def __init__(self, config):
    super().__init__(config, name="factorized_prior")
    self.prior = tfc.NoisyDeepFactorized(batch_shape=(config.latent_channels,))
    self.training_entropy_model = tfc.ContinuousBatchedEntropyModel(
        self.prior, coding_rank=_CODING_RANK, compression=False)
    self._create_weights()

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
        {"latents": _factorized_coder_for(self.prior, self.config.latent_channels)})

  def coding_tables(self):
    """The coder's tables as numpy arrays, for saving next to the weights."""
    return _factorized_tables(self.coders["latents"])

  def set_coding_tables(self, tables):
    """Uses saved tables, so decoding never depends on recomputing them."""
    self._install_coders({"latents": _factorized_coder(tables, self.config.latent_channels)})

  @_coding_graph(input_signature=[_IMAGE_SPEC])
  def _hard_latents(self, image):
    return self.coders["latents"].quantize(self.analysis(self._padded(image) / 255.0))

  @_coding_graph(input_signature=[_IMAGE_SPEC])
  def _compress(self, image):
    latents = self.analysis(self._padded(image) / 255.0)
    return self.coders["latents"].compress(latents)[0], tf.shape(latents)[1:]

  @_coding_graph(input_signature=[_STRING_SPEC, _STRING_SPEC, _SIZE_SPEC])
  def _decompress(self, string, padded, latent_size):
    return _decode_factorized(self.coders["latents"], string, padded, latent_size,
                              self.config.latent_channels)

  def _range_encode(self, image):
    string, shape = self._compress(image)
    return [string], [shape]

  def _range_decode(self, strings, shapes):
    padded = _decoder_input(strings[0], math.prod(shapes[0]), self.coders["latents"])
    latents, whole = self._decompress(tf.constant(strings[0]), padded, shapes[0][:2])
    _check_whole(whole, "latent")
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
    padded = _decoder_input(strings[0], math.prod(shapes[0]), coder)
    handle = tfc.create_range_decoder(padded[None], coder.cdf)
    encoder = tfc.create_range_encoder([1], coder.cdf)
    for top in range(0, height, rows):
      handle, symbols = tfc.entropy_decode_channel(
          handle, [min(rows, height - top), width, channels], coder.cdf_offset.dtype)
      encoder = tfc.entropy_encode_channel(encoder, symbols)
      band = tf.cast(symbols[0] + coder.cdf_offset, tf.float32)
      yield (band if offset is None else band + offset).numpy()
    _check_whole(tfc.entropy_encode_finalize(encoder)[0] == strings[0], "latent")


class ScaleHyperpriorModel(_CodecModel):
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

  def __init__(self, config, name="scale_hyperprior"):
    super().__init__(config, name=name)
    parameters = config.latent_channels * (2 if self._PREDICTS_MEANS else 1)
    self.hyper_analysis = HyperAnalysisTransform(config.side_filters)
    self.hyper_synthesis = HyperSynthesisTransform(config.side_filters, parameters)
    self.side_prior = tfc.NoisyDeepFactorized(batch_shape=(config.side_filters,))
    self.side_entropy_model = tfc.ContinuousBatchedEntropyModel(
        self.side_prior, coding_rank=_CODING_RANK, compression=False)
    self.latent_entropy_model = _conditional_entropy_model(compression=False)
    self._create_weights()

  def _hyper_input(self, latents):
    # Scales do not depend on the sign; means do.
    return latents if self._PREDICTS_MEANS else tf.abs(latents)

  def _parameters(self, side_latents, latent_size):
    """The hyper-synthesis output, cropped: side information covers a multiple of 4 latents."""
    return self.hyper_synthesis(side_latents)[:, :latent_size[0], :latent_size[1]]

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
    indexes = _scale_index(log_scales)
    return (indexes if training else tf.round(indexes)), means

  def call(self, images, training=False):
    """Returns (reconstruction, bits per image: latents plus side information)."""
    latents = self.analysis(images / 255.0)
    side_hat, side_bits = self.side_entropy_model(
        self.hyper_analysis(self._hyper_input(latents)), training=training)
    parameters = self._parameters(side_hat, tf.shape(latents)[1:3])
    indexes, means = self._conditionals(parameters, training)
    latents_hat, bits = self.latent_entropy_model(latents, indexes, loc=means,
                                                  training=training)
    return self.synthesis(latents_hat) * 255.0, bits + side_bits

  def _parts(self):
    return super()._parts() + [("hyper_analysis", self.hyper_analysis),
                               ("hyper_synthesis", self.hyper_synthesis),
                               ("side_prior", self.side_prior)]

  def coded_shapes(self, height, width):
    """[side information shape, latent shape] for an image of this size."""
    latent_height, latent_width = self.config.latent_size(height, width)
    side = (-(-latent_height // HYPER_DOWNSAMPLING), -(-latent_width // HYPER_DOWNSAMPLING),
            self.config.side_filters)
    return [side, (latent_height, latent_width, self.config.latent_channels)]

  def build_coding_tables(self):
    """Derives both coders' integer tables: the side prior's and the scale table's."""
    self._install_coders(
        {"side": _factorized_coder_for(self.side_prior, self.config.side_filters),
         "latents": _conditional_entropy_model(compression=True, stateless=False)})

  def coding_tables(self):
    """Both coders' tables as numpy arrays, for saving next to the weights."""
    tables = {f"side/{k}": v for k, v in _factorized_tables(self.coders["side"]).items()}
    latents = self.coders["latents"]
    tables["latents/cdf"] = latents.cdf.numpy()
    tables["latents/cdf_offset"] = latents.cdf_offset.numpy()
    return tables

  def set_coding_tables(self, tables):
    """Uses saved tables, so decoding never depends on recomputing them."""
    if len(tables["latents/cdf_offset"]) != _NUM_SCALES:
      raise ModelError(f"the saved scale table has {len(tables['latents/cdf_offset'])} "
                       f"entries; this build uses {_NUM_SCALES}")
    side = {k[len("side/"):]: v for k, v in tables.items() if k.startswith("side/")}
    latents = _conditional_entropy_model(compression=True, stateless=False)
    # TFC 2.14's indexed models take no tables in their constructor; the saved
    # ones replace those it has just computed.
    latents.set_weights([tables["latents/cdf"], tables["latents/cdf_offset"]])
    self._install_coders({"side": _factorized_coder(side, self.config.side_filters),
                          "latents": latents})

  @_coding_graph(input_signature=[_IMAGE_SPEC])
  def _analyze(self, image):
    """Latents and quantized side information (what the decoder will decode) of an image."""
    latents = self.analysis(self._padded(image) / 255.0)
    return latents, self._side_information(latents)

  @_coding_graph(input_signature=[_TENSOR_SPEC])
  def _side_information(self, latents):
    return self.coders["side"].quantize(self.hyper_analysis(self._hyper_input(latents)))

  @_coding_graph(input_signature=[_TENSOR_SPEC, _SIZE_SPEC])
  def _entropy_parameters(self, side_latents, latent_size):
    """The one graph that derives the latents' entropy parameters from side information.

    The encoder runs it on its quantized side information, the decoder on the
    decoded one; these are the same numbers, so on one machine both get
    bit-identical parameters. It is a graph of its own, not inlined into a
    larger one, so that graph optimizations cannot treat the two sides apart.
    """
    return self._parameters(side_latents, latent_size)

  @_coding_graph(input_signature=[_TENSOR_SPEC])
  def _compress_side(self, side_latents):
    return self.coders["side"].compress(side_latents)[0]

  @_coding_graph(input_signature=[_STRING_SPEC, _STRING_SPEC, _SIZE_SPEC])
  def _decompress_side(self, string, padded, side_size):
    return _decode_factorized(self.coders["side"], string, padded, side_size,
                              self.config.side_filters)

  @_coding_graph(input_signature=[_TENSOR_SPEC, _TENSOR_SPEC])
  def _compress_latents(self, latents, parameters):
    indexes, means = self._conditionals(parameters, training=False)
    return self.coders["latents"].compress(latents, indexes, loc=means)[0]

  @_coding_graph(input_signature=[_STRING_SPEC, _STRING_SPEC, _TENSOR_SPEC])
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

  @_coding_graph(input_signature=[_TENSOR_SPEC, _TENSOR_SPEC])
  def _quantize_latents(self, latents, parameters):
    _, means = self._conditionals(parameters, training=False)
    return self.coders["latents"].quantize(latents, loc=means)

  def _range_encode(self, image):
    return self._code(*self._analyze(image))

  def _range_encode_tiled(self, image, tile_size):
    """Analyzes in tiles; the side information and coding work on the whole latent map.

    Memory still grows with the image here, by the latent map (channels / 256
    floats a pixel), but no longer by the transforms' activations.
    """
    latents = np.concatenate(list(
        analyze_in_bands(self._analyze_tile, image, self.config, tile_size)))
    latents = tf.constant(latents[None])
    return self._code(latents, self._side_information(latents))

  def _code(self, latents, side):
    parameters = self._entropy_parameters(side, tf.shape(latents)[1:3])
    strings = [self._compress_side(side), self._compress_latents(latents, parameters)]
    return strings, [tf.shape(side)[1:], tf.shape(latents)[1:]]

  def _range_decode_side(self, string, shape):
    """The side information a payload codes; BitstreamError if it codes anything else."""
    padded = _decoder_input(string, math.prod(shape), self.coders["side"])
    side, whole = self._decompress_side(tf.constant(string), padded, shape[:2])
    _check_whole(whole, "side information")
    return side

  def _range_decode(self, strings, shapes):
    side = self._range_decode_side(strings[0], shapes[0])
    parameters = self._entropy_parameters(side, shapes[1][:2])
    padded = _decoder_input(strings[1], math.prod(shapes[1]), self.coders["latents"])
    try:
      latents, whole = self._decompress_latents(tf.constant(strings[1]), padded, parameters)
    except tf.errors.InvalidArgumentError as e:
      # Corrupt side information can give scale indexes outside the table.
      raise BitstreamError(
          f"latent payload cannot be decoded: {e.message.splitlines()[0]}") from None
    _check_whole(whole, "latent")
    return latents

  def _decoded_latent_bands(self, strings, shapes, tile_size):
    yield self._range_decode(strings, shapes)[0].numpy()

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

  def __init__(self, config):
    super().__init__(config, name="mean_scale_hyperprior")


MODEL_CLASSES = {
    "factorized": FactorizedPriorModel,
    "hyperprior": ScaleHyperpriorModel,
    "mean-scale-hyperprior": MeanScaleHyperpriorModel,
}


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
