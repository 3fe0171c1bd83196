"""Normalization layers for the transforms: GDN / IGDN and group, instance and layer norm."""

import warnings

import numpy as np
import tensorflow as tf
import tensorflow_compression as tfc

__all__ = [
    "GDN",
    "GroupNormalization",
    "InstanceNormalization",
    "LayerNormalization",
    "group_norm",
]


def _known(parameter, value):
  """A fixed parameter's value as a numpy scalar; `value` (a tensor) if it is not known."""
  if parameter is None or callable(parameter):
    return value
  known = tf.get_static_value(parameter)
  return value if known is None else known


@tf.keras.utils.register_keras_serializable(package="compressor")
class GDN(tfc.GDN):
  """Generalized divisive normalization (Ballé, Laparra & Simoncelli, 2016 and 2017).

  Per position, over channels i and j:

    y[i] = x[i] / sqrt(beta[i] + sum_j gamma[j, i] * x[j]^2)

  Statistics never span spatial positions. With `inverse=True` the layer is
  IGDN, one fixed-point step towards inverting GDN: the division becomes a
  multiplication. With `simplified=True` it is the simplified GDN of Johnston
  et al. (2018), y[i] = x[i] / (beta[i] + sum_j gamma[j, i] * |x[j]|), which is
  what `tfc.GDN()` computes with its defaults.

  The computation and the reparameterization are tensorflow-compression's
  (`tfc.GDN` and `tfc.GDNParameter`); this class gives them the documented
  arguments. beta and gamma are stored as their square roots plus
  `reparam_offset`, so that training slows down near zero without getting stuck
  at zero; the `beta` and `gamma` properties return the effective values.

  Args:
    inverse: if True, compute IGDN instead of GDN.
    beta_min: lower bound for beta, which keeps the square root away from zero.
    gamma_init: gamma starts as the identity matrix times this. With 0 the
      layer starts as the identity, since beta starts at one.
    reparam_offset: offset of the square-root reparameterization.
    data_format: 'channels_last' or 'channels_first'.
    simplified: if True, the simplified form without squares and square root.
    beta_parameter, gamma_parameter: as in `tfc.GDN`: None (the default)
      trains the parameter as above; a tensor fixes it (it is not a weight, and
      `beta_min`, `gamma_init` and `reparam_offset` do not apply to it); a
      callable, such as a `tfc.GDNParameter`, computes it.
    **kwargs: `rectify` (tfc.GDN's: a ReLU before the normalization) and the
      Keras layer arguments: `activity_regularizer`, `trainable`, `name`, `dtype`.
  """

  # tfc.GDN arguments that `simplified`, `beta_min`, `gamma_init` and
  # `reparam_offset` set: given as well, they would be overridden or lost.
  _SET_HERE = ("alpha_parameter", "epsilon_parameter", "alpha_initializer",
               "beta_initializer", "gamma_initializer", "epsilon_initializer")

  def __init__(self, inverse=False, beta_min=1e-6, gamma_init=0.1,
               reparam_offset=2 ** -18, data_format="channels_last",
               simplified=False, beta_parameter=None, gamma_parameter=None,
               **kwargs):
    given = sorted(set(kwargs) & set(self._SET_HERE))
    if given:
      raise ValueError(
          f"GDN does not take {', '.join(given)}: use simplified, beta_min, "
          f"gamma_init and reparam_offset, or beta_parameter and gamma_parameter")
    super().__init__(
        inverse=inverse, data_format=data_format,
        alpha_parameter=1 if simplified else 2,
        epsilon_parameter=1 if simplified else 0.5,
        beta_parameter=beta_parameter, gamma_parameter=gamma_parameter, **kwargs)
    # The parameters that build creates; the others are the caller's, given here
    # or set as attributes before build as tfc.GDN allows. (A frozenset, which
    # Keras does not wrap as a trackable object.)
    self._created = frozenset()
    if beta_min <= 0:
      raise ValueError(f"beta_min must be positive, got {beta_min}")
    self._beta_min = float(beta_min)
    self._gamma_init = float(gamma_init)
    self._reparam_offset = float(reparam_offset)
    self._simplified = bool(simplified)

  @property
  def beta_min(self):
    return self._beta_min

  @property
  def gamma_init(self):
    return self._gamma_init

  @property
  def reparam_offset(self):
    return self._reparam_offset

  @property
  def simplified(self):
    return self._simplified

  # tfc.GDN.call branches in Python on a fixed alpha and epsilon (to use abs,
  # square or sqrt). As numbers known when tracing, rather than tensors, they
  # let a graph be traced without AutoGraph, which is most of a cold start's
  # first trace; the branch taken, and so the output, is the same.
  @property
  def alpha(self):
    return _known(self.alpha_parameter, super().alpha)

  @property
  def epsilon(self):
    return _known(self.epsilon_parameter, super().epsilon)

  def build(self, input_shape):
    input_shape = tf.TensorShape(input_shape)
    channel_axis = 1 if self.data_format == "channels_first" else -1
    if (input_shape.rank is not None and input_shape.rank >= 2
        and input_shape[channel_axis] is not None):
      # tfc.GDN would create these with its fixed bound and offset; created
      # here first (same names, same order), they carry ours instead. Given
      # ones are kept, as tfc.GDN keeps them.
      channels = input_shape[channel_axis]
      created = set()
      if self.beta_parameter is None:
        self.beta_parameter = tfc.GDNParameter(
            tf.ones([channels], self.variable_dtype), name="beta",
            minimum=self.beta_min, offset=self.reparam_offset)
        created.add("beta")
      if self.gamma_parameter is None:
        self.gamma_parameter = tfc.GDNParameter(
            self.gamma_init * tf.eye(channels, dtype=self.variable_dtype),
            name="gamma", minimum=0, offset=self.reparam_offset)
        created.add("gamma")
      self._created = frozenset(created)
    # Otherwise tfc.GDN raises its error for the shape.
    super().build(input_shape)

  # Keras's .keras format saves only the variables made by add_weight; these
  # live in tfc's parameter objects, so they are saved here, in weights order.
  def save_own_variables(self, store):
    for i, value in enumerate(self.get_weights()):
      store[str(i)] = value

  def load_own_variables(self, store):
    self.set_weights([store[str(i)] for i in range(len(store.keys()))])

  def get_config(self):
    # tfc.GDN's config describes its own arguments, not these.
    config = tf.keras.layers.Layer.get_config(self)
    config.update(
        inverse=self.inverse, beta_min=self.beta_min, gamma_init=self.gamma_init,
        reparam_offset=self.reparam_offset, data_format=self.data_format,
        simplified=self.simplified, rectify=self.rectify,
        activity_regularizer=tf.keras.regularizers.serialize(self.activity_regularizer))
    for name in ("beta", "gamma"):
      parameter = getattr(self, f"{name}_parameter")
      if parameter is not None and name not in self._created:
        config[f"{name}_parameter"] = _serialized_parameter(parameter, f"{name}_parameter")
    return config


def _serialized_parameter(parameter, what):
  """A fixed tensor as nested lists, a tfc Parameter as its Keras config."""
  if isinstance(parameter, tf.Tensor):
    return parameter.numpy().tolist()
  if isinstance(parameter, tfc.Parameter):
    return tf.keras.utils.legacy.serialize_keras_object(parameter)
  # tfc.GDN would write a function's name, which does not load back.
  raise TypeError(f"cannot serialize {what} of type {type(parameter).__name__}")


def _normalized_axes(axes, rank, what):
  """Axes as sorted non-negative indices; ValueError naming `what` if out of bounds or repeated.

  `what` is the argument and its value as given, e.g. "reduction_axes=(1, 2)".
  """
  normalized = []
  for axis in axes:
    if not -rank <= axis < rank:
      raise ValueError(f"{what}: axis {axis} is out of bounds for inputs of rank {rank}")
    normalized.append(axis % rank)
  if len(set(normalized)) != len(normalized):
    raise ValueError(f"{what} names an axis twice")
  return sorted(normalized)


@tf.keras.utils.register_keras_serializable(package="compressor")
class GroupNormalization(tf.keras.layers.GroupNormalization):
  """Group normalization (Wu & He, 2018): Keras's layer, with list axes and Keras masks.

  The channels along `axis` are split into `groups` groups of consecutive
  channels. Each group is normalized to zero mean and unit variance with
  statistics over its channels and every other axis but the first (the batch),
  then scaled by gamma and shifted by beta, one of each per channel. For an
  image that means the statistics span the whole image: each output depends on
  every pixel.

  With an integer `axis` this is `tf.keras.layers.GroupNormalization`
  unchanged. Keras 2.14 documents a list `axis` but fails on one; here a list
  names several feature axes, whose elements (in the order they lie in memory)
  are split into groups as one channel axis would be, with gamma and beta of
  the features' shape. `groups=-1` means one group per channel (instance
  normalization).

  Arguments are checked as early as they can be: `groups` (an integer, at
  least 1, or -1) and `axis` (never 0, the batch) at construction, `groups`
  against the number of channels at build.

  Call arguments:
    inputs: a tensor whose first axis is the batch.
    mask: weights of the positions in the mean and variance, broadcast to the
      inputs. A mask with one axis fewer than the inputs, as Keras propagates
      from `Masking` or `Embedding`, covers the whole last axis of its
      position (Keras 2.14 fails on such masks).
  """

  def __init__(self, groups=32, axis=-1, **kwargs):
    # Keras checks groups only at build, where 0 divides by zero and -2 passes
    # until the call.
    if (isinstance(groups, bool) or not isinstance(groups, (int, np.integer))
        or (groups < 1 and groups != -1)):
      raise ValueError(
          f"groups must be an integer, at least 1 (or -1, one group per channel), "
          f"got groups={groups!r}")
    if 0 in ([axis] if isinstance(axis, (int, np.integer)) else list(axis)):
      raise ValueError(
          f"axis must not include the batch axis 0 (statistics are per example), "
          f"got axis={axis!r}")
    super().__init__(groups=int(groups), axis=axis, **kwargs)

  def _check_groups(self, channels, where):
    """ValueError naming both if self.groups cannot split `channels` channels."""
    if self.groups == -1:
      return
    if self.groups > channels:
      raise ValueError(
          f"groups={self.groups} cannot be more than the number of channels "
          f"({channels}) along {where}")
    if channels % self.groups:
      raise ValueError(
          f"groups={self.groups} must divide the number of channels ({channels}) "
          f"along {where}")

  def build(self, input_shape):
    input_shape = tf.TensorShape(input_shape)
    rank = input_shape.rank
    if isinstance(self.axis, int):
      # A negative axis can still name the batch; Keras reports the other errors.
      if rank is not None and -rank <= self.axis < rank:
        if self.axis % rank == 0:
          raise ValueError(
              f"axis={self.axis} is the batch axis of inputs of rank {rank}")
        if input_shape[self.axis] is not None:
          self._check_groups(input_shape[self.axis], f"axis={self.axis}")
      super().build(input_shape)
      return
    axes = _normalized_axes(self.axis, rank, f"axis={list(self.axis)}")
    if 0 in axes:
      raise ValueError(
          f"axis={list(self.axis)} includes the batch axis of inputs of rank {rank}")
    shape = [input_shape[a] for a in axes]
    if None in shape:
      raise ValueError(
          f"axes {list(self.axis)} of the input must have defined sizes, "
          f"got shape {input_shape}")
    features = int(np.prod(shape))
    self._check_groups(features, f"axis={list(self.axis)}")
    if self.groups == -1:
      self.groups = features
    self.input_spec = tf.keras.layers.InputSpec(
        ndim=input_shape.rank, axes={a: input_shape[a] for a in axes})
    self.gamma = self.add_weight(
        shape=shape, name="gamma", initializer=self.gamma_initializer,
        regularizer=self.gamma_regularizer,
        constraint=self.gamma_constraint) if self.scale else None
    self.beta = self.add_weight(
        shape=shape, name="beta", initializer=self.beta_initializer,
        regularizer=self.beta_regularizer,
        constraint=self.beta_constraint) if self.center else None
    # Skips Keras's build, which only handles an integer axis.
    tf.keras.layers.Layer.build(self, input_shape)

  def call(self, inputs, mask=None):
    if mask is not None:
      mask = tf.convert_to_tensor(mask)
      if mask.shape.rank == inputs.shape.rank - 1:
        mask = mask[..., None]
    if isinstance(self.axis, int):
      return super().call(inputs, mask=mask)
    return self._normalize_over_axes(inputs, mask)

  def _normalize_over_axes(self, inputs, mask):
    """Moves the feature axes last and flattens them: then they group like one axis."""
    rank = inputs.shape.rank
    axes = _normalized_axes(self.axis, rank, f"axis={list(self.axis)}")
    others = [a for a in range(rank) if a not in axes]
    order = others + axes
    features = int(np.prod([inputs.shape[a] for a in axes]))
    group_shape = [self.groups, features // self.groups]
    shape = tf.shape(inputs)
    grouped_shape = tf.concat([tf.gather(shape, others), group_shape], 0)
    def grouped(x):
      return tf.reshape(tf.transpose(x, order), grouped_shape)
    weights = tf.ones_like(inputs) if mask is None else tf.cast(
        tf.broadcast_to(mask, shape), inputs.dtype)
    reduction_axes = list(range(1, len(others))) + [len(others) + 1]
    mean, variance = tf.nn.weighted_moments(
        grouped(inputs), reduction_axes, frequency_weights=grouped(weights), keepdims=True)
    gamma = None if self.gamma is None else tf.reshape(self.gamma, group_shape)
    beta = None if self.beta is None else tf.reshape(self.beta, group_shape)
    outputs = tf.nn.batch_normalization(
        grouped(inputs), mean, variance, beta, gamma, self.epsilon)
    outputs = tf.reshape(outputs, tf.gather(shape, order))
    return tf.transpose(outputs, np.argsort(order))

  def get_config(self):
    config = super().get_config()
    config["axis"] = self.axis if isinstance(self.axis, int) else list(self.axis)
    return config


@tf.keras.utils.register_keras_serializable(package="compressor")
class InstanceNormalization(GroupNormalization):
  """Instance normalization (Ulyanov et al., 2016): group normalization, one group per channel.

  Each channel of each image is normalized by its own mean and variance over
  the image, which removes every channel's mean and contrast: for a map of one
  pixel the output is beta, whatever the input.
  """

  def __init__(self, axis=-1, **kwargs):
    # As TF Addons' InstanceNormalization: a given groups is overridden, with a warning.
    groups = kwargs.pop("groups", -1)
    if groups != -1:
      warnings.warn(f"InstanceNormalization uses one group per channel: groups={groups!r} "
                    f"is ignored", stacklevel=2)
    super().__init__(groups=-1, axis=axis, **kwargs)

  def get_config(self):
    config = super().get_config()
    del config["groups"]
    return config


# Registered under another name than the class's, so that the old name keeps
# meaning what files saved with it computed (_OneGroupNormalization below).
@tf.keras.utils.register_keras_serializable(package="compressor", name="KerasLayerNormalization")
class LayerNormalization(tf.keras.layers.LayerNormalization):
  """Layer normalization (Ba et al., 2016): `tf.keras.layers.LayerNormalization` itself.

  The mean and variance span the axes in `axis` (by default the last, the
  channels), and gamma and beta have their shape. Wu & He's layer
  normalization, over every axis but the batch with gamma and beta per
  channel, is `GroupNormalization(groups=1)`.

  Decision (issue 18): same arguments, same result as Keras; "layer" transforms use groups=1.
  """


@tf.keras.utils.register_keras_serializable(package="compressor", name="LayerNormalization")
class _OneGroupNormalization(GroupNormalization):
  """What `LayerNormalization` was before issue 18: group normalization with one group.

  Its registered name is the one that `LayerNormalization` was saved under, so
  that `.keras` files saved then load as what they computed.
  """

  def __init__(self, axis=-1, **kwargs):
    super().__init__(groups=1, axis=axis, **kwargs)

  def get_config(self):
    config = super().get_config()
    del config["groups"]
    return config


def group_norm(inputs, groups=32, channels_axis=-1, reduction_axes=(-3, -2),
               center=True, scale=True, epsilon=1e-6, activation_fn=None,
               param_initializers=None, reuse=None, variables_collections=None,
               outputs_collections=None, trainable=True, scope=None,
               mean_close_to_zero=False):
  """Group normalization as a function, after TF1's `tf.contrib.layers.group_norm`.

  The channels along `channels_axis` are split into `groups` groups; each is
  normalized with the mean and variance over its channels and `reduction_axes`
  (not over axes named by neither), then scaled by gamma and shifted by beta.
  NHWC inputs take `channels_axis=-1, reduction_axes=(-3, -2)`, NCHW inputs
  `channels_axis=-3, reduction_axes=(-2, -1)`. Negative axes work with or
  without a batch axis. Only the rank and the channels must be known
  statically; the other sizes (the image size) may vary.

  This function holds no variables. beta and gamma are the values that
  `param_initializers` gives them (zeros and ones by default) at every call;
  for trainable ones use `GroupNormalization`. Hence the TF1 arguments about
  variables have no effect: `trainable`, `reuse` and `variables_collections`
  are ignored, and so is `outputs_collections` (TF2 has no graph collections).
  `scope` names the operations (default "GroupNorm").

  Args:
    inputs: a tensor of rank at least 2.
    groups: the number of groups; it must divide the number of channels.
    channels_axis: the axis split into groups.
    reduction_axes: the axes the statistics span besides the group's channels.
    center: if True, add beta.
    scale: if True, multiply by gamma.
    epsilon: added to the variance.
    activation_fn: applied to the result, unless None.
    param_initializers: a dict of Keras initializers (or their names) for
      "beta" and "gamma". "moving_mean" and "moving_variance" are accepted and
      ignored: group normalization keeps no running statistics.
    mean_close_to_zero: how the variance is computed. If True, in one pass as
      E[x^2] - E[x]^2 (`tf.nn.sufficient_statistics`, as fused batch
      normalization does), which loses precision when the mean is large
      compared with the spread. If False, in two passes as E[(x - E[x])^2]
      (`tf.nn.moments`), accurate for any mean.
    reuse, variables_collections, outputs_collections, trainable, scope: see
      above.

  Returns:
    A tensor of the shape of `inputs`.

  Raises:
    ValueError: if the rank or the number of channels of `inputs` is undefined,
      if `groups` does not divide the channels, if an axis is out of bounds,
      or if `reduction_axes` include `channels_axis`.
  """
  del reuse, variables_collections, outputs_collections, trainable  # See above.
  with tf.name_scope(scope or "GroupNorm"):
    inputs = tf.convert_to_tensor(inputs)
    rank = inputs.shape.rank
    if rank is None:
      raise ValueError(f"inputs must have a defined rank, got shape {inputs.shape}")
    if rank < 2:
      raise ValueError(f"inputs must have rank 2 or more, got shape {inputs.shape}")
    # The messages name the arguments as given; the code uses them normalized.
    given_channels, given_reduction = channels_axis, tuple(reduction_axes)
    (channels_axis,) = _normalized_axes(
        [channels_axis], rank, f"channels_axis={given_channels}")
    reduction_axes = _normalized_axes(
        reduction_axes, rank, f"reduction_axes={given_reduction}")
    if channels_axis in reduction_axes:
      raise ValueError(
          f"reduction_axes={given_reduction} must not include channels_axis={given_channels} "
          f"(axis {channels_axis} of inputs of rank {rank})")
    channels = inputs.shape[channels_axis]
    if channels is None:
      raise ValueError(
          f"channels_axis={given_channels} of inputs must have a defined size "
          f"(the number of channels), got shape {inputs.shape}")
    if not 1 <= groups <= channels or channels % groups:
      raise ValueError(
          f"groups={groups!r} is not commensurate with the {channels} channels along "
          f"channels_axis={given_channels}: it must be in [1, {channels}] and divide {channels}")
    initializers = {"beta": "zeros", "gamma": "ones", **(param_initializers or {})}
    unknown = set(initializers) - {"beta", "gamma", "moving_mean", "moving_variance"}
    if unknown:
      raise ValueError(
          f"param_initializers has unknown keys {sorted(unknown)}; it takes beta, gamma, "
          f"moving_mean and moving_variance")

    # The channels axis becomes (groups, channels per group): the axes after it move by one.
    group_shape = [groups, channels // groups]
    shape = tf.shape(inputs)
    grouped = tf.reshape(inputs, tf.concat(
        [shape[:channels_axis], group_shape, shape[channels_axis + 1:]], 0))
    axes = [a + (a > channels_axis) for a in reduction_axes] + [channels_axis + 1]
    if mean_close_to_zero:
      counts, mean_sum, variance_sum, _ = tf.nn.sufficient_statistics(
          grouped, axes, keepdims=True)
      mean, variance = tf.nn.normalize_moments(counts, mean_sum, variance_sum, shift=None)
    else:
      mean, variance = tf.nn.moments(grouped, axes, keepdims=True)

    param_shape = [1] * (rank + 1)
    param_shape[channels_axis:channels_axis + 2] = group_shape
    def parameter(name):
      value = tf.keras.initializers.get(initializers[name])([channels], dtype=inputs.dtype)
      return tf.reshape(value, param_shape)
    outputs = tf.nn.batch_normalization(
        grouped, mean, variance, parameter("beta") if center else None,
        parameter("gamma") if scale else None, epsilon)
    outputs = tf.reshape(outputs, shape)
    return outputs if activation_fn is None else activation_fn(outputs)
