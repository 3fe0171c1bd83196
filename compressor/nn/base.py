"""What every codec model shares: the transforms, its identity, weights and the coding API."""

import functools

import numpy as np
import tensorflow as tf

from compressor.errors import ModelError
from compressor.nn.bands import payload_bounds
from compressor.nn.config import ceil_div
from compressor.nn.tiling import DEFAULT_TILE_SIZE, synthesize_in_bands, tiles_needed
from compressor.nn.transforms import (
  AnalysisTransform,
  LoadedRDFTParameter,
  SynthesisTransform,
  build_for_shape,
)

__all__ = [
    "CodecModel",
    "coding_graph",
    "IMAGE_SPEC",
    "pad_to_multiple",
    "SIZE_SPEC",
    "STRING_SPEC",
    "TENSOR_SPEC",
]

IMAGE_SPEC = tf.TensorSpec([None, None, 3], tf.uint8)
# A batch of one: latents, side information or entropy parameters.
TENSOR_SPEC = tf.TensorSpec([1, None, None, None], tf.float32)
STRING_SPEC = tf.TensorSpec([], tf.string)
SIZE_SPEC = tf.TensorSpec([2], tf.int32)

# The coding graphs branch in Python only on what is known when tracing, so
# AutoGraph has nothing to convert; converting every layer's call anyway was
# most of a cold start's first trace. A branch on a tensor would fail loudly.
coding_graph = functools.partial(tf.function, autograph=False)


def pad_to_multiple(image, factor):
  """Repeats the last row and column of an HxWxC tensor up to multiples of factor."""
  shape = tf.shape(image)
  padded_height = ceil_div(shape[0], factor) * factor
  padded_width = ceil_div(shape[1], factor) * factor
  rows = tf.minimum(tf.range(padded_height), shape[0] - 1)
  cols = tf.minimum(tf.range(padded_width), shape[1] - 1)
  return tf.gather(tf.gather(image, rows, axis=0), cols, axis=1)


def _to_pixels(reconstruction):
  """Rounds a [0, 1] float reconstruction to 8-bit pixels."""
  return tf.cast(tf.round(tf.clip_by_value(reconstruction * 255.0, 0.0, 255.0)), tf.uint8)


def _payload_bytes(strings):
  """Each coded tensor's band strings (scalar string tensors) as bytes."""
  return [[bytes(band.numpy()) for band in bands] for bands in strings]


def _int_shapes(shapes):
  return [tuple(int(d) for d in np.asarray(shape)) for shape in shapes]


def _cropped(pixels, height, width):
  """The image's own pixels of a padded reconstruction, as a contiguous array."""
  return np.ascontiguousarray(pixels.numpy()[:height, :width])


class CodecModel(tf.keras.Model):
  """What every codec model shares: the transforms, its identity and the coding API.

  Subclasses add entropy models and define `call` (for training: noisy latents
  and a differentiable rate), `coded_shapes`, the coding-table methods,
  `_parts`, and the graphs behind `_range_encode` (and `_range_encode_tiled`),
  `_code_tensors`, `_range_decode`, `_decoded_latent_bands` and `_hard_latents`.
  Each coded tensor is range-coded in bands of rows (compressor.nn.bands).
  Coding uses only tables built once from the learned priors
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
    # Identity of a saved model, set by compressor.coding.store; bitstreams carry both.
    self.model_name = None
    self.fingerprint = None
    self.metadata = {}

  def _create_weights(self, initialize=True):
    """Creates every weight of the transforms; returns the latents' shape for a 1-latent image.

    Only the transforms: the priors make their weights when constructed. With
    initialize=False the weights are only allocated, for saved ones to
    overwrite (compressor.nn.transforms.build_for_shape).
    """
    factor = self.config.downsampling
    latent_shape = build_for_shape(self.analysis, (1, factor, factor, 3), initialize)
    build_for_shape(self.synthesis, latent_shape, initialize)
    return latent_shape

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

  @coding_graph(input_signature=[IMAGE_SPEC])
  def _analyze_tile(self, tile):
    return self.analysis(tf.cast(tile, tf.float32)[None] / 255.0)

  @coding_graph(input_signature=[TENSOR_SPEC])
  def _synthesize(self, latents):
    """8-bit pixels of [1, h, w, C] latents, uncropped: a whole padded image or one tile."""
    return _to_pixels(self.synthesis.decode(latents)[0])

  def encode(self, image, tile_size=DEFAULT_TILE_SIZE):
    """Range-codes an HxWx3 uint8 image; returns (payloads, shapes), one of each per coded tensor.

    Each tensor's payloads are a list of bytes, one per band of its rows
    (compressor.nn.bands). The order is the decoding order: side information
    before the latents it describes. An image larger than `tile_size` (None:
    never) is analyzed in tiles, which gives the same latents up to float rounding.
    """
    height, width = image.shape[:2]
    if tiles_needed(self.config, height, width, tile_size):
      strings, shapes = self._range_encode_tiled(image, tile_size)
    else:
      strings, shapes = self._range_encode(image)
    return _payload_bytes(strings), _int_shapes(shapes)

  def encode_tensors(self, coded):
    """As `encode`, for the tensors to code given (as refinement makes them), in payload order."""
    strings, shapes = self._coded([tf.convert_to_tensor(tensor) for tensor in coded])
    return _payload_bytes(strings), _int_shapes(shapes)

  def _coded(self, coded):
    """(band strings, shape) of each of the tensors to code, given in payload order."""
    return self._code_tensors(coded), [tf.shape(tensor)[1:] for tensor in coded]

  def decode(self, payloads, shapes, height, width, tile_size=DEFAULT_TILE_SIZE):
    """Decodes the payloads and shapes from `encode` to an HxWx3 uint8 image.

    An image larger than `tile_size` (None: never) is synthesized in tiles.
    """
    pixels = np.empty((height, width, 3), np.uint8)
    top = 0
    for band in self.decode_bands(payloads, shapes, height, width, tile_size):
      pixels[top:top + len(band)] = band
      top += len(band)
    return pixels

  def decode_bands(self, payloads, shapes, height, width, tile_size=DEFAULT_TILE_SIZE):
    """As `decode`, but yields the image as bands of rows, top to bottom.

    A tensor's payloads are its bands, or one payload for all its rows (files
    of format version 2). Tiled, memory stays one band of tiles whatever the
    image; otherwise the whole image is one band. The payloads are known whole
    only when the iterator is exhausted: the last step raises BitstreamError
    if one was not, after the last band, so a consumer must not commit the
    output before then.
    """
    shapes = [tuple(shape) for shape in shapes]
    expected = self.coded_shapes(height, width)
    if shapes != expected or len(payloads) != len(expected):
      raise ModelError(
          f"{len(payloads)} coded tensors of shapes {shapes} do not fit a {width}x{height} "
          f"image under this model (expected shapes {expected})")
    for tensor, shape in zip(payloads, shapes):
      if payload_bounds(shape[0], len(tensor)) is None:
        raise ModelError(f"{len(tensor)} payloads cannot code the {shape[0]} rows of a "
                         f"{'x'.join(map(str, shape))} tensor")
    if not tiles_needed(self.config, height, width, tile_size):
      yield _cropped(self._synthesize(self._range_decode(payloads, shapes)), height, width)
      return
    bands = self._decoded_latent_bands(payloads, shapes)
    yield from synthesize_in_bands(self._synthesize, bands, self.config, height, width,
                                   tile_size)
    for _ in bands:  # Runs the decoder's final check.
      pass

  def reconstruct(self, image):
    """The forward pass with hard quantization, as 8-bit pixels (no coding)."""
    height, width = image.shape[:2]
    return _cropped(self._synthesize(self._hard_latents(image)), height, width)

  def hard_reconstruction(self, image):
    """(8-bit reconstruction, bits [1]) of an HxWx3 uint8 image under hard quantization.

    The entropy models' own rounding and rate, so no coding tables are needed:
    it is what validation measures during training.
    """
    height, width = image.shape[:2]
    reconstruction, bits = self(self._padded(image), training=False)
    return _cropped(_to_pixels(reconstruction[0] / 255.0), height, width), bits

  def estimate_bits(self, image):
    """The entropy models' rate of an image under hard quantization: the ideal code length."""
    return float(self.hard_reconstruction(image)[1][0])

  # Weights, in a stable order for saving and fingerprinting.

  def _parts(self):
    """(name, module) of every part with weights; the names prefix the saved arrays."""
    return [("analysis", self.analysis), ("synthesis", self.synthesis)]

  def named_weights(self):
    return {f"{name}/{i:03d}": variable.numpy()
            for name, part in self._parts() for i, variable in enumerate(part.variables)}

  def set_named_weights(self, arrays, parts=None):
    """Assigns saved arrays (as `named_weights` gives them) to the model's variables.

    With `parts` (names from `_parts`, e.g. ["analysis", "synthesis"]) only those
    parts are assigned, from arrays that may hold other parts too: a model of
    another architecture can start from the transforms of this one.
    """
    expected = self.named_weights()
    if parts is not None:
      known = [name for name, _ in self._parts()]
      unknown = [part for part in parts if part not in known]
      if unknown:
        raise ModelError(f"this model has no part {', '.join(unknown)}; "
                         f"its parts are {', '.join(known)}")
      part_of = lambda name: name.split("/")[0]
      saved_parts = {part_of(name) for name in arrays}
      missing = [part for part in parts if part not in saved_parts]
      if missing:
        raise ModelError(f"the saved weights have no part {', '.join(missing)}")
      expected = {name: value for name, value in expected.items() if part_of(name) in parts}
      arrays = {name: value for name, value in arrays.items() if part_of(name) in parts}
    if sorted(arrays) != sorted(expected):
      raise ModelError("saved weights do not match the model's architecture")
    for name, value in expected.items():
      if arrays[name].shape != value.shape:
        raise ModelError(
            f"weight {name} has shape {arrays[name].shape}, expected {value.shape}")
    for name, part in self._parts():
      if parts is None or name in parts:
        for i, variable in enumerate(part.variables):
          variable.assign(arrays[f"{name}/{i:03d}"])
    # A model allocated for loading computes its kernels once, from these weights.
    for module in self.submodules:
      if isinstance(module, LoadedRDFTParameter):
        module.reload()
