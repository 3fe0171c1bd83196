"""compressor.nn.layers against the cases of the libraries they document.

The inputs, arguments and expected values come from tensorflow-compression's
gdn_test.py, tf-keras' group_normalization_test.py and layer_normalization_test.py,
and TF Addons' normalizations_test.py; the tests are written here, against our
layers, so that a change that breaks compatibility with those libraries fails.
Where upstream only checks that training runs, the case checks the formula.
"""

import os

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_compression as tfc
from test_layers import numpy_gdn, numpy_group_norm, perturb, random_inputs

from compressor.nn.layers import GDN, GroupNormalization, InstanceNormalization, LayerNormalization

RNG = np.random.default_rng(18)


def uniform(*shape, low=0.0, high=1.0):
  return RNG.uniform(low, high, shape).astype(np.float32)


def with_gamma_beta(layer, normalized, axis):
  """normalized * gamma + beta, with the layer's weights along `axis` (or 1 and 0)."""
  shape = [1] * normalized.ndim
  shape[axis] = -1
  gamma = layer.gamma.numpy().reshape(shape) if layer.scale else 1.0
  beta = layer.beta.numpy().reshape(shape) if layer.center else 0.0
  return normalized * gamma + beta


# tensorflow-compression, gdn_test.py. Its GDN() defaults are the simplified form
# (alpha 1, epsilon 1): ours with simplified=True; its alpha 2, epsilon 0.5
# ("quadratic") is ours by default.

def test_gdn_refuses_an_unknown_data_format():
  with pytest.raises(ValueError):
    GDN(data_format="NHWC")


@pytest.mark.parametrize("data_format", ["channels_first", "channels_last"])
def test_gdn_refuses_vector_inputs(data_format):
  with pytest.raises(ValueError):
    GDN(data_format=data_format)(tf.zeros((3,)))


@pytest.mark.parametrize("simplified", [True, False])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("rank", [2, 3, 4, 5, 6])
def test_gdn_output_for_every_rank(rank, data_format, simplified):
  # Initially beta is 1 and gamma 0.1 times the identity: the formula is per element.
  shape = (1, 2, 3, 4, 5, 6) if data_format == "channels_last" else (6, 5, 4, 3, 2, 1)
  x = uniform(*shape[:rank])
  y = GDN(simplified=simplified, data_format=data_format)(x)
  assert y.shape == x.shape
  expected = x / (1 + 0.1 * np.abs(x)) if simplified else x / np.sqrt(1 + 0.1 * x ** 2)
  np.testing.assert_allclose(y, expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("simplified", [True, False])
def test_igdn_output(simplified):
  x = uniform(1, 2, 3, 4)
  y = GDN(inverse=True, simplified=simplified)(x)
  expected = x * (1 + 0.1 * np.abs(x)) if simplified else x * np.sqrt(1 + 0.1 * x ** 2)
  np.testing.assert_allclose(y, expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("simplified", [True, False])
def test_rectified_gdn_output_and_config(simplified):
  x = uniform(1, 2, 3, 4, low=-0.5, high=0.5)
  layer = GDN(simplified=simplified, rectify=True)
  relu = np.maximum(x, 0)
  expected = relu / (1 + 0.1 * relu) if simplified else relu / np.sqrt(1 + 0.1 * relu ** 2)
  np.testing.assert_allclose(layer(x), expected, rtol=0, atol=1e-6)
  assert GDN.from_config(layer.get_config()).rectify


@pytest.mark.parametrize("simplified", [True, False])
def test_gdn_with_fixed_beta_and_gamma(simplified):
  """Upstream's case: beta 0 and gamma all ones, so y = x / the norm of x over channels."""
  x = uniform(10, 3, low=-0.5, high=0.5)
  layer = GDN(simplified=simplified, beta_parameter=[0, 0, 0], gamma_parameter=tf.ones((3, 3)))
  y = layer(x)
  if simplified:
    norm = np.abs(x).sum(-1, keepdims=True)
  else:
    norm = np.sqrt((x ** 2).sum(-1, keepdims=True))
  np.testing.assert_allclose(y, x / norm, rtol=0, atol=1e-6)
  assert not layer.weights and not layer.trainable_weights
  # A fixed tensor is saved in the config, as values.
  clone = GDN.from_config(layer.get_config())
  np.testing.assert_array_equal(clone(x), y)
  assert not clone.weights


def test_gdn_with_one_fixed_parameter_trains_the_other():
  x = random_inputs(2, 5, 5, 4)
  beta = np.array([0.5, 1.0, 2.0, 4.0], np.float32)
  layer = GDN(beta_parameter=beta)
  layer(x)
  assert [w.name.split("/")[-1] for w in layer.trainable_weights] == ["reparam_gamma:0"]
  perturb(layer)
  np.testing.assert_allclose(layer(x), numpy_gdn(x, beta, layer.gamma.numpy()),
                             rtol=1e-5, atol=1e-6)


def test_gdn_with_a_given_gdn_parameter_computes_it():
  """A callable parameter (here tfc's GDNParameter, minimum 0) is used and trained."""
  x = random_inputs(2, 5, 5, 3)
  gamma = tfc.GDNParameter(0.5 * np.eye(3, dtype=np.float32), name="gamma")
  layer = GDN(gamma_parameter=gamma, beta_min=0.25)
  layer(x)
  assert layer.gamma_parameter is gamma and len(layer.trainable_weights) == 2
  np.testing.assert_allclose(layer(x), numpy_gdn(x, np.ones(3), 0.5 * np.eye(3)),
                             rtol=1e-5, atol=1e-6)


def test_gdn_variables_are_enumerated():
  # Upstream also trains alpha and epsilon (set to None); ours fixes them by `simplified`.
  layer = GDN()
  layer.build((None, 5))
  assert [w.name.split("/")[-1] for w in layer.trainable_weights] == [
      "reparam_beta:0", "reparam_gamma:0"]


def test_gdn_variables_are_not_enumerated_when_overridden():
  layer = GDN()
  layer.beta_parameter = [1]
  layer.gamma_parameter = [.1]
  layer.build((None, 1))
  assert not layer.weights and not layer.trainable_weights
  np.testing.assert_allclose(layer.beta, [1.0])
  np.testing.assert_allclose(layer.gamma, [0.1])


def test_gdn_variables_trainable_state_follows_layer():
  layer = GDN()
  layer.trainable = False
  layer.build((None, 1))
  assert len(layer.weights) == 2 and not layer.trainable_weights


def test_gdn_attributes_cannot_be_set_after_build():
  layer = GDN()
  layer.build((None, 2))
  for name, value in [
      ("inverse", True), ("rectify", True), ("data_format", "channels_first"),
      ("alpha_parameter", 5), ("beta_parameter", tf.ones((5,))),
      ("gamma_parameter", tf.ones((5, 5))), ("epsilon_parameter", 1 / 3),
      ("alpha_initializer", "ones"), ("beta_initializer", "ones"),
      ("gamma_initializer", "ones"), ("epsilon_initializer", "ones")]:
    with pytest.raises(RuntimeError):
      setattr(layer, name, value)


def test_gdn_variables_receive_gradients():
  x = uniform(1, 2)
  layer = GDN(rectify=True)
  with tf.GradientTape() as tape:
    y = layer(x)
  grads = tape.gradient(y, layer.trainable_weights)
  assert len(grads) == 2 and None not in grads
  assert [g.shape for g in grads] == [w.shape for w in layer.trainable_weights]


@pytest.mark.parametrize("build", [False, True])
def test_gdn_saved_model_is_rebuilt_from_its_config(build, tmp_path):
  inputs = tf.keras.Input(shape=(5,))
  model = tf.keras.Model(inputs, GDN(name="gdn")(inputs))
  def check_parameters(layer):
    assert isinstance(layer, GDN)
    assert isinstance(layer.alpha_parameter, tf.Tensor) and layer.alpha_parameter.shape == []
    assert isinstance(layer.epsilon_parameter, tf.Tensor) and layer.epsilon_parameter.shape == []
    assert isinstance(layer.beta_parameter, tfc.GDNParameter)
    assert isinstance(layer.gamma_parameter, tfc.GDNParameter)
  check_parameters(model.get_layer("gdn"))
  x = uniform(5, 5)
  if build:
    perturb(model.get_layer("gdn"))
    y, names = model(x), [w.name for w in model.weights]
  path = os.path.join(tmp_path, "model")
  model.save(path, save_traces=False)  # Without traces the layer is rebuilt from its config.
  loaded = tf.keras.models.load_model(path)
  check_parameters(loaded.get_layer("gdn"))
  if build:
    np.testing.assert_array_equal(loaded(x), y)
    assert [w.name for w in loaded.weights] == names


def test_gdn_dtypes_with_mixed_precision():
  tf.keras.mixed_precision.set_global_policy("mixed_float16")
  try:
    layer = GDN()
    y = layer(tf.random.uniform((4, 3), dtype=tf.float16))
    assert all(v.dtype == tf.float32 for v in layer.variables)
    assert y.dtype == tf.float16
  finally:
    tf.keras.mixed_precision.set_global_policy(None)


# tf-keras, group_normalization_test.py.

def test_group_normalization_trainable_weights():
  for flag, count in ((False, 0), (True, 2)):
    layer = GroupNormalization(groups=1, scale=flag, center=flag)
    layer.build((None, 3, 4))
    assert len(layer.weights) == len(layer.trainable_weights) == count


def test_group_normalization_with_regularizers():
  # Upstream's layer_test, default groups (32) over 32 channels: instance normalization.
  x = random_inputs(3, 4, 32)
  layer = GroupNormalization(gamma_regularizer=tf.keras.regularizers.l2(0.01),
                             beta_regularizer=tf.keras.regularizers.l2(0.01))
  y = layer(x)
  assert len(layer.losses) == 2
  np.testing.assert_allclose(y, numpy_group_norm(x, 32, -1, [1]), rtol=1e-4, atol=1e-4)


def test_group_normalization_with_constraints():
  x = random_inputs(3, 4, 4)
  layer = GroupNormalization(groups=4, gamma_constraint=tf.keras.constraints.UnitNorm(),
                             beta_constraint=tf.keras.constraints.UnitNorm())
  np.testing.assert_allclose(layer(x), numpy_group_norm(x, 4, -1, [1]), rtol=1e-4, atol=1e-4)
  assert isinstance(layer.gamma.constraint, tf.keras.constraints.UnitNorm)
  assert isinstance(layer.beta.constraint, tf.keras.constraints.UnitNorm)


INPUTS_1D = np.array([[-1.0, -1.0, 1.0, 1.0, 2.0, 2.0, 0.0, -2.0]], np.float32)
INPUTS_2D = np.array([[[-1.0, -1.0, 2.0, 2.0], [1.0, 1.0, 0.0, -2.0]]], np.float32)


@pytest.mark.parametrize("inputs,groups,axis,expected", [
    (INPUTS_1D, 1, -1, [[-0.898, -0.898, 0.539, 0.539, 1.257, 1.257, -0.180, -1.616]]),
    (INPUTS_1D, 2, 1, [[-1.0, -1.0, 1.0, 1.0, 0.904, 0.904, -0.301, -1.507]]),
    (INPUTS_2D, 1, -1, [[[-0.898, -0.898, 1.257, 1.257], [0.539, 0.539, -0.180, -1.616]]]),
    (INPUTS_2D, 2, 2, [[[-1.0, -1.0, 0.904, 0.904], [1.0, 1.0, -0.301, -1.507]]]),
])
def test_group_normalization_correctness(inputs, groups, axis, expected):
  layer = GroupNormalization(groups=groups, axis=axis, scale=False, center=False)
  y = tf.keras.Sequential([layer])(inputs)
  np.testing.assert_allclose(y, expected, atol=1e-3)
  reduction_axes = list(range(1, inputs.ndim - 1))
  np.testing.assert_allclose(y, numpy_group_norm(inputs, groups, axis, reduction_axes),
                             rtol=1e-5, atol=1e-5)


def test_group_normalization_correctness_instance_norm():
  x = np.array([[[-1.0, 1.0, 0.0, 2.0], [1.0, 3.0, -4.0, -2.0]]], np.float32)
  expected = [[[-1.0, -1.0, 1.0, 1.0], [1.0, 1.0, -1.0, -1.0]]]
  for layer in (GroupNormalization(groups=4, scale=False, center=False),
                InstanceNormalization(scale=False, center=False)):
    np.testing.assert_allclose(layer(x), expected, atol=1e-3)


def test_group_normalization_correctness_with_centering_and_scaling():
  centered = GroupNormalization(groups=2, scale=False,
                                beta_initializer=tf.keras.initializers.Constant(10))
  np.testing.assert_allclose(centered(INPUTS_1D),
                             [[9.0, 9.0, 11.0, 11.0, 10.904, 10.904, 9.699, 8.493]], atol=1e-3)
  scaled = GroupNormalization(groups=2, center=False,
                              gamma_initializer=tf.keras.initializers.Constant(2))
  np.testing.assert_allclose(scaled(INPUTS_1D),
                             [[-2.0, -2.0, 2.0, 2.0, 1.809, 1.808, -0.602, -3.014]], atol=1e-3)


def test_group_normalization_validates_groups_against_channels():
  # Keras says groups "must be a multiple of the number of channels", the reverse of
  # what it checks; ours says "must divide" and names both values.
  with pytest.raises(ValueError, match=r"groups=3 must divide the number of channels \(10\)"):
    GroupNormalization(groups=3).build((2, 10))
  with pytest.raises(ValueError,
                     match=r"groups=32 cannot be more than the number of channels \(8\)"):
    GroupNormalization(groups=32).build((2, 8))


def test_group_normalization_validates_known_number_of_channels():
  with pytest.raises(ValueError, match="should have a defined dimension"):
    GroupNormalization().build((1, 32, None))


@pytest.mark.parametrize("axis", [-4, 3])
def test_group_normalization_rejects_invalid_axis(axis):
  with pytest.raises(ValueError, match="Invalid value for `axis` argument"):
    GroupNormalization(axis=axis).build((64, 32, 32))


# TF Addons, normalizations_test.py. Its FilterResponseNormalization cases do not
# apply: compressor.nn.layers has no such layer.

def test_instance_normalization_inherits_group_normalization():
  assert issubclass(InstanceNormalization, GroupNormalization)
  assert InstanceNormalization.build is GroupNormalization.build
  assert InstanceNormalization.call is GroupNormalization.call
  assert InstanceNormalization().groups == -1


def test_instance_normalization_weights():
  layer = GroupNormalization(groups=1, scale=False, center=False)
  layer.build((None, 3, 4))
  assert not layer.weights
  layer = InstanceNormalization()
  layer.build((None, 3, 4))
  assert len(layer.weights) == len(layer.trainable_weights) == 2


# Upstream's _apply_normalization and _reshape_into_groups cases test private TFA
# methods; their fact, a constant group normalizes to zero, is tested through call.
def test_constant_groups_normalize_to_zero():
  layer = GroupNormalization(groups=2, axis=1, scale=False, center=False)
  np.testing.assert_array_equal(layer(np.array([[2.0, 2.0, 3.0, 3.0]], np.float32)),
                                np.zeros((1, 4)))


def _check_every_axis(shape, groups, center, scale):
  """Upstream's _test_specific_layer, against the float64 formula with perturbed weights."""
  x = random_inputs(*shape)
  for axis in range(1, len(shape)):
    layer = GroupNormalization(axis=axis, groups=groups, center=center, scale=scale,
                               epsilon=1e-5)
    layer(x)
    perturb(layer)
    n = shape[axis] if groups == -1 else groups
    reduction_axes = [a for a in range(1, len(shape)) if a != axis]
    expected = with_gamma_beta(
        layer, numpy_group_norm(x, n, axis, reduction_axes, epsilon=1e-5), axis)
    np.testing.assert_allclose(layer(x), expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("center", [True, False])
@pytest.mark.parametrize("scale", [True, False])
def test_feature_input(center, scale):
  for groups in (-1, 1, 2, 5):
    _check_every_axis((10, 100), groups, center, scale)


@pytest.mark.parametrize("center", [True, False])
@pytest.mark.parametrize("scale", [True, False])
def test_picture_input(center, scale):
  for groups in (-1, 1, 3):
    _check_every_axis((4, 30, 30, 3), groups, center, scale)


@pytest.mark.parametrize("groups", [-1, 16, 1])
def test_groupnorm_flat(groups):
  # Upstream fits a model and checks gamma and beta exist; here their shape and the formula.
  x = random_inputs(10, 64, mean=5.0)
  layer = GroupNormalization(groups=groups)
  layer(x)
  perturb(layer)
  assert layer.gamma.shape == layer.beta.shape == (64,)
  expected = with_gamma_beta(layer, numpy_group_norm(x, 64 if groups == -1 else groups, -1, []), -1)
  np.testing.assert_allclose(layer(x), expected, rtol=1e-4, atol=1e-4)


def test_initializers_and_non_negative_constraints():
  layer = GroupNormalization(groups=32, beta_initializer="random_normal",
                             beta_constraint="NonNeg", gamma_initializer="random_normal",
                             gamma_constraint="NonNeg")
  x = random_inputs(10, 64)
  # Upstream fits a model; one SGD step with a gradient of -1 has the same effect.
  with tf.GradientTape() as tape:
    loss = tf.reduce_sum(layer(x))
  optimizer = tf.keras.optimizers.SGD(10.0)
  optimizer.apply_gradients(zip(tape.gradient(loss, layer.trainable_weights),
                                layer.trainable_weights))
  weights = np.concatenate(layer.get_weights())
  assert weights.std() > 0 and weights.min() >= 0


def test_axis_error():
  with pytest.raises(ValueError, match="batch axis"):
    GroupNormalization(axis=0)


@pytest.mark.parametrize("groups", [-1, 5, 1])
def test_groupnorm_conv(groups):
  x = random_inputs(3, 20, 20, 3, mean=500.0)
  layer = GroupNormalization(axis=1, groups=groups)
  n = 20 if groups == -1 else groups
  np.testing.assert_allclose(layer(x), numpy_group_norm(x, n, 1, [2, 3]), rtol=1e-3, atol=1e-3)
  assert layer.gamma.shape == (20,)


def test_regularizations():
  layer = GroupNormalization(gamma_regularizer="l1", beta_regularizer="l1", groups=4, axis=2)
  layer.build((None, 4, 4))
  assert len(layer.losses) == 2
  max_norm = tf.keras.constraints.max_norm
  layer = GroupNormalization(groups=2, gamma_constraint=max_norm, beta_constraint=max_norm)
  layer.build((None, 3, 4))
  assert layer.gamma.constraint == max_norm and layer.beta.constraint == max_norm


@pytest.mark.parametrize("shape,axis,groups", [
    ((1000, 10), -1, 2),  # correctness_1d
    ((1000, 10, 3), 1, 2), ((1000, 10, 3), 1, 1), ((1000, 10, 3), 1, 10),  # 2d groups
    ((1000, 3, 4, 4), 1, 3),  # convnet
])
def test_normalized_groups_have_zero_mean_and_unit_variance(shape, axis, groups):
  # Upstream trains first (the weights move); here the weights are perturbed instead.
  # A tiny epsilon, because groups of 3 values can have a tiny variance.
  x = RNG.normal(5.0, 10.0, shape).astype(np.float32)
  layer = GroupNormalization(axis=axis, groups=groups, epsilon=1e-12)
  layer(x)
  perturb(layer)
  param_shape = [1] * len(shape)
  param_shape[axis] = -1
  out = (layer(x).numpy() - layer.beta.numpy().reshape(param_shape)) / layer.gamma.numpy(
  ).reshape(param_shape)
  grouped = np.moveaxis(out, axis, -1).reshape(shape[0], -1, groups, shape[axis] // groups)
  np.testing.assert_allclose(grouped.mean(axis=(1, 3)), 0.0, atol=1e-4)
  np.testing.assert_allclose(grouped.std(axis=(1, 3)), 1.0, atol=1e-4)


def test_convnet_no_center_no_scale():
  x = RNG.normal(5.0, 10.0, (1000, 3, 4, 4)).astype(np.float32)
  layer = GroupNormalization(axis=-1, groups=2, center=False, scale=False)
  np.testing.assert_allclose(layer(x), numpy_group_norm(x, 2, -1, [1, 2]), rtol=1e-4, atol=1e-4)
  assert not layer.weights


def test_groupnorm_batch_size_independence():
  x = tf.random.stateless_uniform([4, 60, 40, 24], seed=[1, 2])
  layer = GroupNormalization(groups=3, axis=-1)
  layer.build([None, None, None, 24])
  whole = layer.call(x)
  slices = tf.concat([layer.call(x[i:i + 1]) for i in range(4)], axis=0)
  # TFA's layer agrees to 3 float32 eps. Keras's, which ours is, sums in another order
  # for another batch size, which rounds differently by about 1e-5; statistics that mixed
  # images would differ by far more.
  np.testing.assert_allclose(slices, whole, rtol=0, atol=1e-4)
  np.testing.assert_allclose(whole, numpy_group_norm(x.numpy(), 3, -1, [1, 2]),
                             rtol=0, atol=1e-4)


@pytest.mark.parametrize("center", [True, False])
@pytest.mark.parametrize("scale", [True, False])
@pytest.mark.parametrize("kind", ["group", "instance"])
def test_compute_output_shape_and_variables(kind, center, scale):
  # Upstream's InstanceNormalization(groups=2) case: accepted, with a warning, as TFA does.
  def make():
    if kind == "group":
      return GroupNormalization(groups=2, center=center, scale=scale)
    with pytest.warns(UserWarning, match="groups=2 is ignored"):
      return InstanceNormalization(groups=2, center=center, scale=scale)
  count = [center, scale].count(True)
  built = make()
  built.build([8, 28, 28, 16])
  assert len(built.variables) == len(built.trainable_variables) == count
  if kind == "instance":
    assert built.groups == 16
  # TFA's compute_output_shape builds the layer; Keras's, which ours is, does not.
  assert make().compute_output_shape([8, 28, 28, 16]) == [8, 28, 28, 16]
  called = make()
  x = random_inputs(8, 28, 28, 16)
  y = called(x)
  assert len(called.variables) == len(called.trainable_variables) == count
  if not (center or scale):
    n = 2 if kind == "group" else 16
    np.testing.assert_allclose(y, numpy_group_norm(x, n, -1, [1, 2]), rtol=1e-4, atol=1e-4)


# tf-keras, layer_normalization_test.py: compressor.nn.layers.LayerNormalization is Keras's.

@pytest.mark.parametrize("shape,axis", [
    ((4, 3), (0,)), ((3, 4), (1,)), ((4, 3, 2), (0,)), ((2, 4, 2), (1,)), ((2, 3, 4), (2,)),
    ((2, 3, 2), (0, 2)), ((2, 2, 2, 2), (1, 3)), ((2, 2, 2, 2), (2, 3)), ((2, 3, 4, 5), (3,)),
])
@pytest.mark.parametrize("epsilon", [1e-12, 1e-3])
@pytest.mark.parametrize("dtype,tol", [("float64", 1e-12), ("float32", 1e-6)])
def test_layer_normalization_forward(shape, axis, epsilon, dtype, tol):
  param_shape = [shape[a] for a in axis]
  beta = np.arange(np.prod(param_shape), dtype=np.float64).reshape(param_shape)
  gamma = beta + 1
  x = RNG.normal(size=shape)
  layer = LayerNormalization(axis=list(axis), epsilon=epsilon, dtype=dtype,
                             beta_initializer=tf.keras.initializers.Constant(beta),
                             gamma_initializer=tf.keras.initializers.Constant(gamma))
  # Layer normalization over `axis` is group normalization with one group, split along
  # the first of them and reduced over the others.
  normalized = numpy_group_norm(x, 1, axis[0], list(axis[1:]), epsilon=epsilon)
  broadcast = [shape[a] if a in axis else 1 for a in range(len(shape))]
  expected = normalized * gamma.reshape(broadcast) + beta.reshape(broadcast)
  np.testing.assert_allclose(layer(x.astype(dtype)), expected, rtol=tol, atol=tol)


@pytest.mark.parametrize("axis", [-1, 1, [1, 2], (-3, -1)])
def test_layer_normalization_is_keras_for_the_same_arguments(axis):
  x = random_inputs(2, 5, 6, 4, mean=3.0)
  ours, keras = LayerNormalization(axis=axis), tf.keras.layers.LayerNormalization(axis=axis)
  ours(x)
  keras(x)
  perturb(ours)
  keras.set_weights(ours.get_weights())
  np.testing.assert_array_equal(ours(x), keras(x))
  assert ours.get_config() == {**keras.get_config(), "name": ours.name}


def test_layer_normalization_weights_and_errors():
  layer = LayerNormalization(scale=False, center=False)
  layer.build((None, 3, 4))
  assert not layer.weights
  layer = LayerNormalization(gamma_regularizer="l1", beta_regularizer="l1")
  layer.build((None, 3, 4))
  assert len(layer.trainable_weights) == len(layer.losses) == 2
  with pytest.raises(TypeError, match="Expected an int or a list/tuple of ints"):
    LayerNormalization(axis={"axis": -1})
  with pytest.raises(ValueError, match="Invalid value for `axis` argument"):
    LayerNormalization(axis=3).build((2, 2, 2))
  with pytest.raises(ValueError, match="Duplicate axis"):
    LayerNormalization(axis=[-1, -1]).build((2, 2, 2))
