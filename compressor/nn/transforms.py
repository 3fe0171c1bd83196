"""Analysis and synthesis transforms (strided convolutions with GDN / IGDN) and hyperprior ones."""

import math

import tensorflow as tf
import tensorflow_compression as tfc

from compressor.nn import integer, layers, subpixel

__all__ = [
    "AnalysisTransform",
    "HYPER_DOWNSAMPLING",
    "HyperAnalysisTransform",
    "HyperSynthesisTransform",
    "IntegerHyperSynthesisTransform",
    "LoadedRDFTParameter",
    "SynthesisTransform",
    "build_for_shape",
]

# (kernel, stride) of the hyper-analysis stages of Ballé et al. (2018): a 3x3
# convolution, then two 5x5 stride-2 ones. The hyper-synthesis mirrors them.
_HYPER_STAGES = ((3, 1), (5, 2), (5, 2))
# Factor by which the side information is smaller than the latents on each side.
HYPER_DOWNSAMPLING = math.prod(stride for _, stride in _HYPER_STAGES)


# Groups of "group" normalization: 8 groups of 16 channels at the paper's 128
# filters, between layer (1 group) and instance normalization (one per channel)
# and still distinct from both at 16 filters. Fewer when 8 does not divide
# num_filters (the gcd), so that every num_filters works.
_GROUPS = 8


def _normalization(kind, inverse, name, channels):
  """The nonlinearity after a convolution with `channels` outputs.

  "gdn" is GDN in the analysis and IGDN in the synthesis as in Ballé et al.
  (2017), in the simplified form that `tfc.GDN()` computes and that every model
  saved before the other choices existed was trained with; "gdn-sqrt" is the
  paper's form with squares and a square root. "relu" is the paper's
  comparison without normalization. "group", "instance" and "layer" are a
  normalization followed by a ReLU, the conv-norm-ReLU block of Wu & He: the
  normalization alone is affine in each group and would leave the transform
  linear. It has no inverse (its statistics are not transmitted), so the
  synthesis uses the same block. Its statistics span the whole image or latent
  map, so a latent depends on every pixel, and the decoder's output on every
  latent; images of any size still code exactly, as both sides see the same
  whole map.
  """
  if kind in ("gdn", "gdn-sqrt"):
    return layers.GDN(inverse=inverse, simplified=kind == "gdn", name=name)
  if kind == "relu":
    return tf.keras.layers.ReLU(name=name)
  if kind == "group":
    norm = layers.GroupNormalization(groups=math.gcd(channels, _GROUPS))
  elif kind == "instance":
    norm = layers.InstanceNormalization()
  elif kind == "layer":
    # Wu & He's layer normalization, which saved models were trained with, not
    # Keras' (over the channels only): see layers.LayerNormalization.
    norm = layers.GroupNormalization(groups=1)
  else:
    raise ValueError(f"unknown normalization {kind!r}")
  return tf.keras.Sequential([norm, tf.keras.layers.ReLU()], name=name)


class _ConfiguredSequential(tf.keras.Sequential):
  """A Sequential rebuilt from the constructor arguments that subclasses keep in _settings."""

  def __init__(self, *args, **kwargs):
    super().__init__(*args, **kwargs)
    # On its first input, a Sequential without an input shape builds a symbolic Keras graph
    # of itself, running autograph over every layer: half of a command's start-up time.
    # Keras' deferred mode calls the layers one after the other instead, with the same
    # weights, names and checkpoints.
    self._use_legacy_deferred_behavior = True

  def get_config(self):
    return dict(name=self.name, **self._settings)

  @classmethod
  def from_config(cls, config, custom_objects=None):
    return cls(**config)


class LoadedRDFTParameter(tfc.RDFTParameter):
  """A kernel's RDFT parameter for saved weights, which computes the kernel once per load.

  tfc.RDFTParameter computes the RDFT of an initial kernel, slow on a CPU (60
  ms for a 5x5x128x128 kernel here) and wasted when weights are loaded next;
  and every call of the layer computes the kernel by an inverse RDFT again,
  in every coding graph. These are the same variables (same attributes,
  shapes and order), zero until loaded; after `reload`, the first call
  computes the kernel with tfc's own inverse, once, and every call returns it
  (a constant: weights change only by loading, never by training). Computed
  at first use, a command computes only the kernels it runs: an encoder those
  of the analysis, a decoder those of the synthesis.
  """

  def __init__(self, shape, dtype=tf.float32, name="kernel"):
    tf.Module.__init__(self, name=name)  # Not RDFTParameter's: no initial kernel.
    self._shape = tf.TensorShape(shape)
    self._dtype = tf.as_dtype(dtype)
    spatial = self._shape[:-2].as_list()
    # The transposed kernel's shape, with the last spatial axis halved by rfft.
    rdft_shape = self._shape[-2:].as_list() + spatial[:-1] + [spatial[-1] // 2 + 1]
    self.real = tf.Variable(tf.zeros(rdft_shape, self._dtype), name=f"{name}_real")
    self.imag = tf.Variable(tf.zeros(rdft_shape, self._dtype), name=f"{name}_imag")
    self._loaded = False
    self._kernel = None  # A tensor, not a variable: not one of the module's weights.

  def reload(self):
    """The variables were set: the next call computes the kernel from them.

    Graphs traced before hold the kernel they were traced with, as they hold a
    model's coding tables: a model is loaded once.
    """
    self._loaded, self._kernel = True, None

  def __call__(self, compute_dtype=None):
    if not self._loaded:
      return super().__call__(compute_dtype)  # The zero kernel of unset variables.
    if self._kernel is None:
      with tf.init_scope():  # Eagerly, also when a graph is being traced.
        self._kernel = super().__call__()
    return self._kernel if compute_dtype is None else tf.cast(self._kernel, compute_dtype)


def build_for_shape(layer, input_shape, initialize=True):
  """Creates the weights of a transform (or of one of its layers) for inputs of this shape.

  What a call on a dummy input would create (the same variables, in the same
  order, with the same seeded values; only their names lack the call's name
  scopes, and checkpoints do not use names) without running anything;
  returns the output shape. With initialize=False (weights
  about to be loaded), RDFT kernels are allocated without their initial RDFT:
  together most of a model's load time. Besides the convolutions, the layers
  of the transforms keep the shape of their inputs.
  """
  input_shape = tf.TensorShape(input_shape)
  if isinstance(layer, tf.keras.Sequential):
    for sublayer in layer.layers:
      input_shape = build_for_shape(sublayer, input_shape, initialize)
    layer.built = True
    return input_shape
  if isinstance(layer, tfc.SignalConv2D):
    if not initialize and layer.kernel_parameter == "rdft":
      layer.kernel_parameter = LoadedRDFTParameter(
          tuple(layer.kernel_support) + (input_shape[-1], layer.filters), layer.variable_dtype)
    layer.build(input_shape)
    output_shape = layer.compute_output_shape(input_shape)
    if isinstance(layer.activation, tf.keras.layers.Layer):
      build_for_shape(layer.activation, output_shape, initialize)
    return output_shape
  layer.build(input_shape)
  return input_shape


# Padding of the analysis and synthesis convolutions: zeros added by tf.pad, then a VALID
# convolution (use_explicit=False). The same sums as SignalConv2D's default EXPLICIT padding,
# which oneDNN computes more slowly: a training step 6% slower in float32, ten times slower
# in bfloat16 (docs/training.md, "Training speed"). The float hyper-synthesis keeps the
# default: decoders recompute its outputs, and files made before must decode the same.
_PADDING = dict(padding="same_zeros", use_explicit=False)


@tf.keras.utils.register_keras_serializable(package="compressor")
class AnalysisTransform(_ConfiguredSequential):
  """Maps an image in [0, 1] to latents: conv + normalization (GDN) stages, the last linear."""

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
          corr=True, strides_down=stride, use_bias=i != last, name=f"conv_{i}", **_PADDING,
          activation=None if i == last else _normalization(
              normalization, inverse=False, name=f"norm_{i}", channels=num_filters)))


@tf.keras.utils.register_keras_serializable(package="compressor")
class SynthesisTransform(_ConfiguredSequential):
  """Maps latents back to an image in [0, 1]: the mirror image, with IGDN for GDN."""

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
          corr=False, strides_up=stride, use_bias=True, name=f"conv_{i}", **_PADDING,
          activation=None if i == last else _normalization(
              normalization, inverse=True, name=f"norm_{i}", channels=num_filters)))

  def decode(self, latents):
    """The same outputs as a call (up to float rounding), in far less memory: for decoding.

    Each upsampling convolution runs as a sub-pixel convolution
    (compressor.nn.subpixel); slower with gradients, so training and latent
    refinement call the transform instead.
    """
    outputs = latents
    for layer in self.layers:
      outputs = subpixel.upsampling_convolution(layer, outputs)
    return outputs


@tf.keras.utils.register_keras_serializable(package="compressor")
class HyperAnalysisTransform(_ConfiguredSequential):
  """Maps latents (or their magnitudes) to side information; ReLU between stages."""

  def __init__(self, num_filters, name="hyper_analysis", **kwargs):
    super().__init__(name=name, **kwargs)
    self._settings = dict(num_filters=num_filters)
    last = len(_HYPER_STAGES) - 1
    for i, (kernel, stride) in enumerate(_HYPER_STAGES):
      self.add(tfc.SignalConv2D(
          num_filters, (kernel, kernel), corr=True, strides_down=stride,
          padding="same_zeros", use_bias=i != last, name=f"conv_{i}",
          activation=None if i == last else "relu"))


@tf.keras.utils.register_keras_serializable(package="compressor")
class HyperSynthesisTransform(_ConfiguredSequential):
  """Maps side information to the latents' entropy parameters: the mirror image."""

  def __init__(self, num_filters, output_channels, name="hyper_synthesis", **kwargs):
    super().__init__(name=name, **kwargs)
    self._settings = dict(num_filters=num_filters, output_channels=output_channels)
    stages = _HYPER_STAGES[::-1]
    last = len(stages) - 1
    for i, (kernel, stride) in enumerate(stages):
      self.add(tfc.SignalConv2D(
          output_channels if i == last else num_filters, (kernel, kernel), corr=False,
          strides_up=stride, padding="same_zeros", use_bias=True, name=f"conv_{i}",
          activation=None if i == last else "relu"))


@tf.keras.utils.register_keras_serializable(package="compressor")
class IntegerHyperSynthesisTransform(tf.keras.layers.Layer):
  """The hyper-synthesis in integer arithmetic (compressor.nn.integer): exact on any machine.

  The stages of HyperSynthesisTransform on fixed-point integers, with bounded
  ReLUs between them. Its outputs are the latents' scale indexes themselves
  (integers in [0, num_scales)), and with `predicts_means` their means (in
  steps of 2^-MEAN_BITS), first, as [means, indexes] on the last axis.
  `call(side, exact=True)` is what encoder and decoder compute; exact=False
  is the straight-through version for training. The side information must be
  integers (coded without a quantization offset).
  """

  MEAN_BITS = 6
  INDEX_GAIN_BITS = 3

  def __init__(self, num_filters, latent_channels, num_scales, predicts_means=False,
               initial_index=0.0, name="hyper_synthesis", **kwargs):
    super().__init__(name=name, **kwargs)
    self._settings = dict(num_filters=num_filters, latent_channels=latent_channels,
                          num_scales=num_scales, predicts_means=predicts_means,
                          initial_index=initial_index)
    hidden = dict(output_bits=integer.ACTIVATION_BITS, low=0.0,
                  high=2.0 ** (integer.ACTIVATION_BITS + integer.ACTIVATION_RANGE_BITS) - 1)
    stages = _HYPER_STAGES[::-1]
    self.stages = [
        integer.IntegerConv(num_filters, kernel, upsample=stride,
                            input_bits=0 if i == 0 else integer.ACTIVATION_BITS,
                            name=f"conv_{i}", **hidden)
        for i, (kernel, stride) in enumerate(stages[:-1])]
    kernel, stride = stages[-1]
    last = dict(upsample=stride, input_bits=integer.ACTIVATION_BITS)
    # The float hyper-synthesis outputs log scales, one unit of which is about 8 steps of the
    # scale table; this layer outputs table steps, so it trains 2^3 times as fast to keep up.
    self.indexes = integer.IntegerConv(
        latent_channels, kernel, output_bits=0, low=0.0, high=num_scales - 1.0,
        bias_initializer=tf.keras.initializers.Constant(initial_index), name="indexes",
        gain_bits=self.INDEX_GAIN_BITS, **last)
    self.means = integer.IntegerConv(
        latent_channels, kernel, output_bits=self.MEAN_BITS, low=-2.0 ** 23, high=2.0 ** 23,
        name="means", **last) if predicts_means else None

  def call(self, side, exact=False):
    x = side
    for stage in self.stages:
      x = stage(x, exact=exact)
    indexes = self.indexes(x, exact=exact)
    if self.means is None:
      return indexes
    # A power-of-two division: exact in float32 for integers below 2^24.
    return tf.concat([self.means(x, exact=exact) / 2.0 ** self.MEAN_BITS, indexes], -1)

  def get_config(self):
    return dict(name=self.name, **self._settings)
