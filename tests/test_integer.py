"""The integer hyper-synthesis: exact integer arithmetic, models that code with it, determinism."""

import dataclasses
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from compressor.coding.codec import compress_image, decompress_bytes
from compressor.coding.images import DecodedImage
from compressor.coding.store import load_model
from compressor.errors import ModelError
from compressor.nn import integer
from compressor.nn.config import ModelConfig
from compressor.nn.transforms import IntegerHyperSynthesisTransform
from compressor.tools.determinism import CONFIGURATIONS, compare
from compressor.training.trainer import TrainingConfig, train
from conftest import TINY, photo


def reference_conv(x, kernel, bias, upsample, shift, low, high):
  """The layer in int64 numpy, by its definition: SAME padding, then a rounding shift."""
  x, kernel, bias = x.astype(np.int64), kernel.astype(np.int64), bias.astype(np.int64)
  height, width, _ = x.shape
  size = kernel.shape[0]
  if upsample == 1:
    pad = (size - 1) // 2
    padded = np.pad(x, ((pad, size - 1 - pad), (pad, size - 1 - pad), (0, 0)))
    sums = np.zeros((height, width, kernel.shape[3]), np.int64)
    for i in range(height):
      for j in range(width):
        sums[i, j] = np.einsum("abc,abcd->d", padded[i:i + size, j:j + size], kernel)
  else:
    # The adjoint of a stride-`upsample` SAME convolution: each input spreads a kernel.
    full = np.zeros(((height - 1) * upsample + size, (width - 1) * upsample + size,
                     kernel.shape[3]), np.int64)
    for i in range(height):
      for j in range(width):
        full[i * upsample:i * upsample + size, j * upsample:j * upsample + size] += np.einsum(
            "c,abcd->abd", x[i, j], kernel)
    before = (size - upsample) // 2
    sums = full[before:before + height * upsample, before:before + width * upsample]
  sums = sums + bias
  # Rounding half up of sums / 2^shift, in integers: floor((sums + 2^(shift-1)) / 2^shift).
  rounded = (sums + (1 << (shift - 1))) >> shift
  return np.clip(rounded, low, high)


@pytest.mark.parametrize("upsample, size", [(1, 3), (2, 5)])
def test_exact_layer_is_the_integer_computation(upsample, size):
  rng = np.random.default_rng(upsample)
  layer = integer.IntegerConv(6, size, upsample=upsample, input_bits=4, output_bits=4,
                              low=0.0, high=4095.0)
  inputs = rng.integers(0, 4096, (1, 5, 7, 8)).astype(np.float32)
  layer.build(inputs.shape)
  layer.kernel.assign(rng.normal(0, 3.0, layer.kernel.shape))
  layer.bias.assign(rng.normal(0, 50.0, layer.bias.shape))
  kernel, bias = (v.numpy() for v in layer.integer_weights(exact=True))
  assert np.abs(kernel).max() > 100  # weights at 8 fractional bits, not rounded away
  expected = reference_conv(inputs[0], kernel, bias, upsample,
                            integer.WEIGHT_BITS + 4 - 4, 0, 4095)
  actual = layer(inputs, exact=True).numpy()[0]
  np.testing.assert_array_equal(actual, expected)
  assert 0 < actual.max() <= 4095 and actual.min() >= 0  # some values met each bound's side


def test_training_path_rounds_straight_through():
  layer = integer.IntegerConv(4, 3, input_bits=0, output_bits=0)
  inputs = tf.constant(np.random.default_rng(0).integers(-8, 8, (1, 6, 6, 3)), tf.float32)
  with tf.GradientTape() as tape:
    outputs = layer(inputs, exact=False)
    loss = tf.reduce_sum(outputs ** 2)
  # Small integers: float32 holds every sum, so training computes what coding does.
  np.testing.assert_array_equal(outputs.numpy(), layer(inputs, exact=True).numpy())
  gradients = tape.gradient(loss, [layer.kernel, layer.bias])
  assert all(float(tf.reduce_max(tf.abs(g))) > 0 for g in gradients)


def test_gain_scales_the_variables_not_the_integers():
  rng = np.random.default_rng(2)
  inputs = rng.integers(0, 256, (1, 4, 5, 3)).astype(np.float32)
  plain = integer.IntegerConv(4, 3, input_bits=4, output_bits=0, bias_initializer="ones")
  gained = integer.IntegerConv(4, 3, input_bits=4, output_bits=0, bias_initializer="ones",
                               gain_bits=3)
  plain.build(inputs.shape)
  gained.build(inputs.shape)
  # Initialized alike in the output's units: the gained variables are 8 times smaller.
  np.testing.assert_allclose(gained.bias.numpy(), plain.bias.numpy() / 8)
  assert np.std(gained.kernel.numpy()) < np.std(plain.kernel.numpy()) / 4
  kernel = rng.normal(0, 1.0, plain.kernel.shape).astype(np.float32)
  plain.kernel.assign(kernel)
  gained.kernel.assign(kernel / 8)
  for exact in (True, False):
    for a, b in zip(plain.integer_weights(exact), gained.integer_weights(exact)):
      np.testing.assert_array_equal(a.numpy(), b.numpy())
  np.testing.assert_array_equal(plain(inputs, exact=True).numpy(),
                                gained(inputs, exact=True).numpy())
  # One Adam step moves every variable by about the learning rate: the gained layer's
  # outputs, before rounding (inputs at 4 fractional bits), move about 8 times as far.
  def mean_output(layer):
    gain = 2.0 ** layer.gain_bits
    return float(tf.reduce_mean(tf.nn.conv2d(inputs, layer.kernel * gain, 1, "SAME") / 16 +
                                layer.bias * gain))
  moves = []
  for layer in (plain, gained):
    before = mean_output(layer)
    with tf.GradientTape() as tape:
      loss = tf.reduce_sum(layer(inputs, exact=False))
    variables = [layer.kernel, layer.bias]
    tf.keras.optimizers.Adam(0.01).apply_gradients(zip(tape.gradient(loss, variables),
                                                       variables))
    moves.append(before - mean_output(layer))
  assert moves[0] > 0
  assert moves[1] == pytest.approx(8 * moves[0], rel=1e-3)


def test_transform_outputs_indexes_and_means_on_their_grids():
  transform = IntegerHyperSynthesisTransform(8, 5, 64, predicts_means=True, initial_index=19.5)
  side = tf.constant(np.random.default_rng(1).integers(-3, 4, (1, 2, 3, 8)), tf.float32)
  parameters = transform(side, exact=True).numpy()
  means, indexes = np.split(parameters, 2, axis=-1)
  assert parameters.shape == (1, 8, 12, 10)
  assert np.array_equal(indexes, np.round(indexes)) and indexes.min() >= 0
  assert indexes.max() <= 63
  steps = means * 2 ** IntegerHyperSynthesisTransform.MEAN_BITS
  np.testing.assert_array_equal(steps, np.round(steps))


def test_the_float_config_keeps_its_fingerprint_fields():
  assert "hyper_synthesis" not in ModelConfig(architecture="hyperprior").to_dict()
  config = ModelConfig(architecture="hyperprior", hyper_synthesis="integer")
  assert config.to_dict()["hyper_synthesis"] == "integer"
  with pytest.raises(ModelError, match="unknown hyper_synthesis 'int8'"):
    ModelConfig(architecture="hyperprior", hyper_synthesis="int8")
  with pytest.raises(ModelError, match="factorized architecture has no hyper-synthesis"):
    ModelConfig(hyper_synthesis="integer")


@pytest.fixture(scope="module", params=["hyperprior", "mean-scale-hyperprior"])
def integer_model_dir(request, photo_dir, tmp_path_factory):
  model_dir = str(tmp_path_factory.mktemp("integer") / request.param)
  config = dataclasses.replace(TINY, architecture=request.param, hyper_synthesis="integer")
  train(model_dir, config, TrainingConfig(
      train_glob=str(photo_dir / "*.png"), patch_size=64, batch_size=2, steps=12,
      learning_rate=1e-3, log_every=6, checkpoint_every=12, seed=2))
  return model_dir


def test_integer_models_code_exactly(integer_model_dir):
  model = load_model(integer_model_dir)
  with open(os.path.join(integer_model_dir, "model.json")) as f:
    assert json.load(f)["config"]["hyper_synthesis"] == "integer"
  # The side information is coded as plain integers: no quantization offset.
  assert model.coders["side"].quantization_offset is None
  for height, width in ((64, 64), (37, 90)):
    pixels = photo("coffee")[:height, :width].copy()
    data = compress_image(model, DecodedImage(pixels, "RGB"))
    np.testing.assert_array_equal(decompress_bytes(data, model).pixels,
                                  model.reconstruct(pixels))


def test_indexes_are_the_same_under_every_configuration(integer_model_dir, tmp_path):
  model = load_model(integer_model_dir)
  files = []
  for name in ("astronaut", "chelsea"):
    files.append(str(tmp_path / f"{name}.cmpr"))
    with open(files[-1], "wb") as f:
      f.write(compress_image(model, DecodedImage(photo(name)[:96, :128].copy(), "RGB")))
  for configuration in CONFIGURATIONS:
    result = compare(model, integer_model_dir, files, configuration)
    assert (result.files, result.index_files, result.desynchronized_files,
            result.inexact_files) == (2, 0, 0, 0), result
