"""compressor.nn.layers against their formulas in numpy, Keras's own layers, and Keras saving."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_compression as tfc

from compressor.nn.layers import (
  GDN,
  GroupNormalization,
  InstanceNormalization,
  LayerNormalization,
  group_norm,
)

RNG = np.random.default_rng(0)


def random_inputs(*shape, mean=0.0):
  return (mean + RNG.normal(size=shape)).astype(np.float32)


def perturb(layer):
  """Random weights, so that tests do not pass on initial values alone."""
  layer.set_weights([w + RNG.uniform(0.0, 0.3, w.shape).astype(np.float32)
                     for w in layer.get_weights()])


def numpy_gdn(x, beta, gamma, inverse=False, simplified=False):
  """y[i] = x[i] / sqrt(beta[i] + sum_j gamma[j, i] x[j]^2), channels last."""
  x = x.astype(np.float64)
  if simplified:
    norm = beta + np.abs(x) @ gamma
  else:
    norm = np.sqrt(beta + np.square(x) @ gamma)
  return x * norm if inverse else x / norm


def numpy_group_norm(x, groups, channels_axis, reduction_axes, epsilon=1e-3, weights=None):
  """Group normalization without gamma and beta, in float64; `weights` weigh the statistics."""
  rank = x.ndim
  channels_axis %= rank
  weights = np.ones(x.shape) if weights is None else np.broadcast_to(weights, x.shape)
  x = np.moveaxis(x.astype(np.float64), channels_axis, -1)
  weights = np.moveaxis(weights, channels_axis, -1)
  # Channels go last, so the axes after them move one back; the last axis of
  # the grouped array holds a group's channels.
  axes = tuple(a % rank - (a % rank > channels_axis) for a in reduction_axes) + (rank,)
  grouped_shape = x.shape[:-1] + (groups, x.shape[-1] // groups)
  grouped, grouped_weights = x.reshape(grouped_shape), weights.reshape(grouped_shape)
  total = grouped_weights.sum(axis=axes, keepdims=True)
  mean = (grouped * grouped_weights).sum(axis=axes, keepdims=True) / total
  variance = (np.square(grouped - mean) * grouped_weights).sum(axis=axes, keepdims=True) / total
  y = ((grouped - mean) / np.sqrt(variance + epsilon)).reshape(x.shape)
  return np.moveaxis(y, -1, channels_axis)


# GDN.

@pytest.mark.parametrize("inverse", [False, True])
@pytest.mark.parametrize("simplified", [False, True])
def test_gdn_matches_formula(inverse, simplified):
  x = random_inputs(2, 5, 7, 4)
  layer = GDN(inverse=inverse, simplified=simplified)
  layer(x)
  perturb(layer)
  expected = numpy_gdn(x, layer.beta.numpy(), layer.gamma.numpy(), inverse, simplified)
  np.testing.assert_allclose(layer(x), expected, rtol=1e-5, atol=1e-6)


def test_gdn_gamma_is_indexed_from_input_to_output_channel():
  x = np.zeros((1, 3), np.float32)
  x[0, 0] = 2.0
  layer = GDN(gamma_init=0.0)
  layer(x)
  gamma = np.zeros((3, 3), np.float32)
  gamma[0, 2] = 1.0  # Channel 0 normalizes channel 2 only.
  layer.gamma_parameter.variable.assign(np.sqrt(gamma + layer.reparam_offset ** 2))
  x[0, 2] = 1.0
  np.testing.assert_allclose(layer(x), [[2.0, 0.0, 1.0 / np.sqrt(1.0 + 4.0)]], rtol=1e-6)


def test_gdn_with_gamma_init_zero_is_identity():
  x = random_inputs(2, 6, 6, 5)
  for inverse in (False, True):
    np.testing.assert_allclose(GDN(inverse=inverse, gamma_init=0.0)(x), x, rtol=1e-6)


def test_gdn_channels_first_equals_channels_last():
  x = random_inputs(2, 3, 5, 4)
  last = GDN()
  last(x)
  perturb(last)
  first = GDN(data_format="channels_first")
  first(np.moveaxis(x, -1, 1))
  first.set_weights(last.get_weights())
  assert first.data_format == "channels_first"
  np.testing.assert_allclose(first(np.moveaxis(x, -1, 1)), np.moveaxis(last(x), -1, 1),
                             rtol=1e-6)


def test_gdn_properties_are_the_reparameterized_values():
  layer = GDN(beta_min=1e-3, gamma_init=0.2, reparam_offset=2 ** -10)
  layer(random_inputs(1, 3))
  perturb(layer)
  offset = 2 ** -10
  def effective(variable, minimum):
    return np.maximum(variable.numpy(), np.sqrt(minimum + offset ** 2)) ** 2 - offset ** 2
  np.testing.assert_allclose(layer.beta, effective(layer.beta_parameter.variable, 1e-3),
                             rtol=1e-6)
  np.testing.assert_allclose(layer.gamma, effective(layer.gamma_parameter.variable, 0.0),
                             rtol=1e-6, atol=1e-12)
  fresh = GDN(gamma_init=0.2)
  fresh(random_inputs(1, 3))
  np.testing.assert_allclose(fresh.beta, np.ones(3), rtol=1e-6)
  np.testing.assert_allclose(fresh.gamma, 0.2 * np.eye(3), rtol=1e-6, atol=1e-9)


def test_gdn_respects_beta_min():
  layer = GDN(beta_min=0.01)
  layer(random_inputs(1, 4))
  layer.beta_parameter.variable.assign(np.zeros(4))
  layer.gamma_parameter.variable.assign(np.zeros((4, 4)))
  np.testing.assert_allclose(layer.beta, np.full(4, 0.01), rtol=1e-5)
  np.testing.assert_allclose(layer.gamma, np.zeros((4, 4)), atol=1e-12)
  x = random_inputs(3, 4)
  np.testing.assert_allclose(layer(x), x / np.sqrt(0.01), rtol=1e-5)


def test_simplified_gdn_is_tfc_gdn_with_the_same_weights():
  """The transforms' "gdn": same variables in the same order, same function."""
  x = random_inputs(2, 4, 4, 3)
  for inverse in (False, True):
    ours, theirs = GDN(inverse=inverse, simplified=True), tfc.GDN(inverse=inverse)
    ours(x)
    theirs(x)
    assert [w.shape for w in ours.weights] == [w.shape for w in theirs.weights]
    assert [w.name for w in ours.weights] == [
        w.name.replace(theirs.name, ours.name) for w in theirs.weights]
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
      np.testing.assert_array_equal(a, b)
    perturb(theirs)
    ours.set_weights(theirs.get_weights())
    np.testing.assert_array_equal(ours(x), theirs(x))


def test_gdn_keras_arguments():
  layer = GDN(inverse=True, trainable=False, name="igdn_0")
  layer(random_inputs(1, 3))
  assert layer.inverse and layer.name == "igdn_0"
  assert not layer.trainable_weights and len(layer.non_trainable_weights) == 2


def test_gdn_arguments_are_checked():
  with pytest.raises(ValueError, match="beta_min must be positive"):
    GDN(beta_min=0.0)
  # tfc.GDN arguments that ours set: they would be overridden or lost.
  with pytest.raises(ValueError, match="does not take gamma_initializer"):
    GDN(gamma_initializer="zeros")
  with pytest.raises(ValueError, match="does not take alpha_parameter, epsilon_parameter"):
    GDN(epsilon_parameter=1, alpha_parameter=1)
  with pytest.raises(ValueError, match="Unknown data format"):
    GDN(data_format="nhwc")
  with pytest.raises(ValueError, match="channel dimension"):
    GDN().build(tf.TensorShape([None, None]))


# Group, instance and layer normalization.

@pytest.mark.parametrize("axis,shape", [(-1, (2, 5, 6, 8)), (1, (2, 8, 5, 6)), (2, (3, 7, 4))])
def test_group_normalization_is_keras_for_an_integer_axis(axis, shape):
  x = random_inputs(*shape, mean=3.0)
  layer = GroupNormalization(groups=4, axis=axis, epsilon=1e-4)
  layer(x)
  perturb(layer)
  reference = tf.keras.layers.GroupNormalization(
      **{k: v for k, v in layer.get_config().items() if k != "name"})
  reference(x)
  reference.set_weights(layer.get_weights())
  np.testing.assert_array_equal(layer(x), reference(x))
  reduction_axes = [a for a in range(1, len(shape)) if a != axis % len(shape)]
  gamma, beta = (w.reshape([-1 if a == axis % len(shape) else 1 for a in range(len(shape))])
                 for w in layer.get_weights())
  expected = numpy_group_norm(x, 4, axis, reduction_axes, epsilon=1e-4)
  expected = expected * gamma + beta
  np.testing.assert_allclose(layer(x), expected, rtol=1e-4, atol=1e-4)


def test_group_normalization_over_a_list_of_axes():
  x = random_inputs(2, 3, 4, 6, mean=-2.0)
  layer = GroupNormalization(groups=4, axis=[2, 3])
  layer(x)
  perturb(layer)
  gamma, beta = layer.get_weights()
  assert gamma.shape == beta.shape == (4, 6)
  # The features (4 x 6, row-major) split into 4 groups of 6; axis 1 is reduced too.
  flat = x.reshape(2, 3, 24)
  expected = numpy_group_norm(flat, 4, -1, [1]).reshape(x.shape) * gamma + beta
  np.testing.assert_allclose(layer(x), expected, rtol=1e-4, atol=1e-4)


def test_group_normalization_list_of_non_adjacent_axes():
  x = random_inputs(2, 6, 3, 4)
  layer = GroupNormalization(groups=3, axis=[-1, 1])
  layer(x)
  perturb(layer)
  gamma, beta = layer.get_weights()
  assert gamma.shape == (6, 4)
  moved = np.moveaxis(x, 1, 2).reshape(2, 3, 24)  # Features (axis 1, axis 3) last.
  expected = numpy_group_norm(moved, 3, -1, [1]).reshape(2, 3, 6, 4) * gamma + beta
  np.testing.assert_allclose(layer(x), np.moveaxis(expected, 2, 1), rtol=1e-4, atol=1e-4)


def test_one_axis_list_equals_integer_axis():
  x = random_inputs(2, 5, 5, 8)
  as_int, as_list = GroupNormalization(groups=2, axis=-1), GroupNormalization(groups=2, axis=[3])
  as_int(x)
  as_list(x)
  perturb(as_int)
  as_list.set_weights(as_int.get_weights())
  np.testing.assert_allclose(as_list(x), as_int(x), rtol=1e-5, atol=1e-5)


def test_instance_normalization_is_a_group_case():
  x = random_inputs(2, 5, 6, 8, mean=1.0)
  special, general = InstanceNormalization(), GroupNormalization(groups=8)
  special(x)
  general(x)
  perturb(general)
  special.set_weights(general.get_weights())
  np.testing.assert_array_equal(special(x), general(x))
  assert special.groups == 8


def test_instance_normalization_normalizes_each_channel_of_each_image():
  x = random_inputs(2, 5, 6, 3, mean=4.0)
  y = InstanceNormalization(epsilon=1e-6)(x).numpy()
  np.testing.assert_allclose(y.mean(axis=(1, 2)), 0.0, atol=1e-5)
  np.testing.assert_allclose(y.std(axis=(1, 2)), 1.0, rtol=1e-4)


def test_one_group_equals_keras_layer_normalization_over_all_axes():
  """Same statistics; Keras's gamma and beta are per element, ours per channel."""
  x = random_inputs(2, 5, 6, 4, mean=2.0)
  ours = GroupNormalization(groups=1, epsilon=1e-3)
  ours(x)
  perturb(ours)
  gamma, beta = ours.get_weights()
  keras = tf.keras.layers.LayerNormalization(axis=[1, 2, 3], epsilon=1e-3)
  keras(x)
  keras.set_weights([np.broadcast_to(gamma, x.shape[1:]), np.broadcast_to(beta, x.shape[1:])])
  np.testing.assert_allclose(ours(x), keras(x), rtol=1e-5, atol=1e-5)


def test_the_codec_layer_option_is_still_one_group():
  """--normalization layer computes what its saved models were trained with, not Keras's."""
  from compressor.nn import transforms
  block = transforms._normalization("layer", inverse=False, name="norm", channels=4)
  x = random_inputs(2, 5, 6, 4, mean=2.0)
  block(x)
  norm = block.layers[0]
  assert type(norm) is GroupNormalization and norm.groups == 1
  perturb(norm)
  gamma, beta = norm.get_weights()
  expected = np.maximum(numpy_group_norm(x, 1, -1, [1, 2]) * gamma + beta, 0.0)
  np.testing.assert_allclose(block(x), expected, rtol=1e-4, atol=1e-4)


def test_layer_normalization_saved_before_issue_18_loads_as_one_group():
  """Files name the old layer compressor>LayerNormalization, with its config's keys."""
  config = tf.keras.layers.serialize(LayerNormalization(epsilon=1e-4))
  assert config["registered_name"] == "compressor>KerasLayerNormalization"
  config["registered_name"] = "compressor>LayerNormalization"
  old = tf.keras.layers.deserialize(config)
  x = random_inputs(2, 3, 4, 4, mean=1.0)
  np.testing.assert_allclose(old(x), numpy_group_norm(x, 1, -1, [1, 2], epsilon=1e-4),
                             rtol=1e-4, atol=1e-4)
  assert isinstance(old, GroupNormalization) and "groups" not in old.get_config()
  assert tf.keras.layers.serialize(old)["registered_name"] == "compressor>LayerNormalization"


@pytest.mark.parametrize("axis", [-1, [3]])
def test_mask_weighs_positions_in_the_statistics(axis):
  x = random_inputs(2, 4, 5, 6)
  mask = (RNG.uniform(size=(2, 4, 5, 1)) > 0.4).astype(np.float32)
  layer = GroupNormalization(groups=3, axis=axis)
  expected = numpy_group_norm(x, 3, -1, [1, 2], weights=np.broadcast_to(mask, x.shape))
  np.testing.assert_allclose(layer(x, mask=mask), expected, rtol=1e-4, atol=1e-4)
  assert not np.allclose(layer(x, mask=mask), layer(x), atol=1e-3)


def test_keras_propagated_mask_has_one_axis_fewer():
  """A Masking layer's mask (batch, time) covers all features at masked time steps."""
  x = random_inputs(2, 6, 4)
  x[:, 4:] = 0.0
  model = tf.keras.Sequential([tf.keras.layers.Masking(0.0, input_shape=(6, 4)),
                               GroupNormalization(groups=2)])
  weights = np.ones_like(x)
  weights[:, 4:] = 0.0
  expected = numpy_group_norm(x, 2, -1, [1], weights=weights)
  np.testing.assert_allclose(model(x), expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("settings,message", [
    (dict(groups=3), r"groups=3 must divide the number of channels \(4\) along axis=-1"),
    (dict(groups=5, axis=[2, 3]), r"groups=5 must divide the number of channels \(12\)"),
    (dict(groups=8), r"groups=8 cannot be more than the number of channels \(4\)"),
    (dict(groups=2, axis=[0, 3]), "batch axis"),
    (dict(groups=2, axis=-4), "axis=-4 is the batch axis"),
    (dict(groups=2, axis=[-4, 3]), "includes the batch axis"),
    (dict(groups=2, axis=[3, -1]), r"axis=\[3, -1\] names an axis twice"),
    (dict(groups=2, axis=[4]), "out of bounds"),
])
def test_group_normalization_refuses_bad_settings(settings, message):
  with pytest.raises(ValueError, match=message):
    GroupNormalization(**settings)(random_inputs(2, 3, 3, 4))


# The functional group_norm.

@pytest.mark.parametrize("groups", [1, 2, 8])
def test_group_norm_nhwc_and_nchw_match_numpy(groups):
  x = random_inputs(2, 5, 7, 8, mean=1.5)
  nhwc = group_norm(x, groups=groups, channels_axis=-1, reduction_axes=(-3, -2))
  np.testing.assert_allclose(nhwc, numpy_group_norm(x, groups, -1, [1, 2], epsilon=1e-6),
                             rtol=1e-4, atol=1e-4)
  nchw = group_norm(np.moveaxis(x, -1, 1), groups=groups, channels_axis=-3,
                    reduction_axes=(-2, -1))
  np.testing.assert_allclose(nchw, np.moveaxis(nhwc, -1, 1), rtol=1e-5, atol=1e-5)


def test_group_norm_statistics_exclude_unnamed_axes():
  """Without a batch axis in reduction_axes, each image keeps its own statistics."""
  x = random_inputs(3, 4, 4, 2)
  batched = group_norm(x, groups=1, reduction_axes=(-3, -2))
  for i in range(3):
    np.testing.assert_allclose(batched[i], group_norm(x[i], groups=1, reduction_axes=(-3, -2)),
                               rtol=1e-5, atol=1e-5)
  together = group_norm(x, groups=1, reduction_axes=(0, 1, 2))
  np.testing.assert_allclose(together, numpy_group_norm(x, 1, -1, [0, 1, 2], epsilon=1e-6),
                             rtol=1e-4, atol=1e-4)


def test_group_norm_parameters_and_activation():
  x = random_inputs(2, 3, 3, 4)
  out = group_norm(x, groups=2, param_initializers={
      "gamma": tf.keras.initializers.Constant(2.0), "beta": "ones"},
      activation_fn=tf.nn.relu)
  expected = np.maximum(2.0 * numpy_group_norm(x, 2, -1, [1, 2], epsilon=1e-6) + 1.0, 0.0)
  np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)
  plain = group_norm(x, groups=2, center=False, scale=False, param_initializers={
      "gamma": "zeros", "beta": "ones", "moving_mean": "zeros"})
  np.testing.assert_allclose(plain, numpy_group_norm(x, 2, -1, [1, 2], epsilon=1e-6),
                             rtol=1e-4, atol=1e-4)


def test_group_norm_equals_the_layer():
  x = random_inputs(2, 6, 5, 8)
  np.testing.assert_allclose(group_norm(x, groups=4, epsilon=1e-3),
                             GroupNormalization(groups=4, epsilon=1e-3)(x),
                             rtol=1e-5, atol=1e-5)


def test_group_norm_accepts_any_image_size():
  @tf.function(input_signature=[tf.TensorSpec([None, None, None, 4])])
  def normalize(x):
    return group_norm(x, groups=2)
  for shape in ((1, 3, 5, 4), (2, 8, 2, 4)):
    x = random_inputs(*shape)
    np.testing.assert_allclose(normalize(x), group_norm(x, groups=2), rtol=1e-6, atol=1e-6)


def test_group_norm_ignores_tf1_variable_arguments():
  x = random_inputs(1, 2, 2, 4)
  np.testing.assert_array_equal(
      group_norm(x, groups=2, reuse=True, variables_collections=["a"],
                 outputs_collections=["b"], trainable=False, scope="gn"),
      group_norm(x, groups=2))


def _traced_group_norm(spec, **kwargs):
  tf.function(lambda x: group_norm(x, **kwargs)).get_concrete_function(spec)


@pytest.mark.parametrize("spec,kwargs,message", [
    (tf.TensorSpec(None), dict(groups=1), "inputs must have a defined rank"),
    (tf.TensorSpec([None, 4, 4, None]), dict(groups=1),
     "channels_axis=-1 of inputs must have a defined size"),
    (tf.TensorSpec([1, 4, 4, 6]), dict(groups=4),
     "groups=4 is not commensurate with the 6 channels along channels_axis=-1"),
    (tf.TensorSpec([1, 4, 4, 6]), dict(groups=12), "groups=12 is not commensurate with the 6"),
    (tf.TensorSpec([1, 4, 4, 6]), dict(groups=0), r"groups=0 .* must be in \[1, 6\]"),
    (tf.TensorSpec([1, 4, 4, 6]), dict(groups=1, channels_axis=4),
     "channels_axis=4: axis 4 is out of bounds"),
    (tf.TensorSpec([1, 4, 4, 6]), dict(groups=1, reduction_axes=(-5, 1)),
     r"reduction_axes=\(-5, 1\): axis -5 is out of bounds"),
    (tf.TensorSpec([1, 4, 4, 6]), dict(groups=1, reduction_axes=[1, -3]),
     r"reduction_axes=\(1, -3\) names an axis twice"),
    (tf.TensorSpec([1, 4, 4, 6]), dict(groups=1, reduction_axes=(1, 3)),
     r"reduction_axes=\(1, 3\) must not include channels_axis=-1"),
    (tf.TensorSpec([4]), dict(groups=1), r"rank 2 or more, got shape \(4,\)"),
    (tf.TensorSpec([1, 4, 4, 6]), dict(groups=1, param_initializers={"gama": "ones"}),
     r"param_initializers has unknown keys \['gama'\]"),
])
def test_group_norm_errors(spec, kwargs, message):
  with pytest.raises(ValueError, match=message):
    _traced_group_norm(spec, **kwargs)


def test_mean_close_to_zero_loses_precision_on_a_large_mean():
  """One pass (E[x^2] - E[x]^2) cancels catastrophically in float32 at mean 1e4."""
  x = random_inputs(1, 32, 32, 2, mean=1e4)
  expected = numpy_group_norm(x, 1, -1, [1, 2], epsilon=1e-6)
  two_pass = group_norm(x, groups=1, mean_close_to_zero=False).numpy()
  one_pass = group_norm(x, groups=1, mean_close_to_zero=True).numpy()
  two_pass_error = np.abs(two_pass - expected).max()
  one_pass_error = np.nan_to_num(np.abs(one_pass - expected), nan=np.inf).max()
  print(f"max error: two-pass {two_pass_error:.2g}, one-pass {one_pass_error:.2g}")
  assert two_pass_error < 1e-2
  assert one_pass_error > 0.1
  # Near zero mean both agree.
  small = random_inputs(1, 8, 8, 2)
  np.testing.assert_allclose(group_norm(small, groups=1, mean_close_to_zero=True),
                             group_norm(small, groups=1), rtol=1e-4, atol=1e-4)


# Serialization.

LAYERS = {
    "gdn": lambda: GDN(inverse=True, beta_min=1e-5, gamma_init=0.05, reparam_offset=2 ** -16,
                       name="igdn"),
    "gdn_simplified": lambda: GDN(simplified=True, activity_regularizer="l2"),
    "group": lambda: GroupNormalization(groups=2, epsilon=1e-4, gamma_regularizer="l2",
                                        beta_initializer="random_uniform"),
    "group_list_axis": lambda: GroupNormalization(groups=8, axis=[2, 3], center=False),
    "instance": lambda: InstanceNormalization(scale=False, beta_constraint="non_neg"),
    "layer": lambda: LayerNormalization(epsilon=1e-5),
}
SHAPE = (2, 4, 4, 4)


@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_config_round_trip(kind):
  layer = LAYERS[kind]()
  x = random_inputs(*SHAPE)
  layer(x)
  perturb(layer)
  config = layer.get_config()
  clone = type(layer).from_config(config)
  assert clone.get_config() == config
  restored = tf.keras.utils.deserialize_keras_object(
      tf.keras.utils.serialize_keras_object(layer))
  assert type(restored) is type(layer)
  for copy in (clone, restored):
    copy(x)
    copy.set_weights(layer.get_weights())
    np.testing.assert_array_equal(copy(x), layer(x))


@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_save_and_load_inside_a_model(kind, tmp_path):
  inputs = tf.keras.Input(SHAPE[1:])
  model = tf.keras.Model(inputs, LAYERS[kind]()(tf.keras.layers.Dense(4)(inputs)))
  perturb(model.layers[-1])
  path = str(tmp_path / "model.keras")
  model.save(path)
  loaded = tf.keras.models.load_model(path)
  assert type(loaded.layers[-1]) is type(model.layers[-1])
  x = random_inputs(*SHAPE)
  np.testing.assert_array_equal(loaded(x), model(x))
