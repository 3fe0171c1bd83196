"""The model: coding reproduces the hard-quantized forward pass, rates match estimates."""

import dataclasses
import json

import numpy as np
import pytest
import tensorflow as tf

from compressor.coding.codec import compress_image, decompress_bytes
from compressor.coding.images import DecodedImage
from compressor.coding.store import load_model, save_model
from compressor.errors import ModelError
from compressor.nn.base import pad_to_multiple
from compressor.nn.config import NORMALIZATIONS, ModelConfig
from compressor.nn.loss import rate_distortion_loss
from compressor.nn.registry import create_model
from compressor.nn.transforms import build_for_shape
from conftest import TINY, photo, random_image

SIZES = [(1, 1), (17, 33), (64, 64), (500, 333)]


def forward_pass(model, image):
  """The Keras forward pass with hard quantization, cropped and rounded to pixels."""
  height, width = image.shape[:2]
  padded = pad_to_multiple(tf.constant(image, tf.float32), model.config.downsampling)
  reconstruction, _ = model(padded[None], training=False)
  pixels = tf.clip_by_value(reconstruction[0, :height, :width], 0, 255)
  return tf.cast(tf.round(pixels), tf.uint8).numpy()


def assert_forward_pass_pixels(decoded, model, image):
  """The decoded pixels are the forward pass's, up to the rounding of its float outputs.

  The decoder computes the synthesis's upsampling convolutions as sub-pixel
  ones (compressor.nn.subpixel): the same sums in another order, so an output
  within float error of a half rounds the other way on a rare pixel.
  """
  expected = forward_pass(model, image).astype(int)
  differences = np.abs(decoded.astype(int) - expected)
  assert differences.max() <= 1
  assert np.count_nonzero(differences) <= max(1, 1e-4 * differences.size)


@pytest.mark.parametrize("height,width", SIZES)
def test_decode_reproduces_forward_pass(untrained_model, height, width):
  image = random_image(height, width, seed=height)
  strings, shapes = untrained_model.encode(image)
  assert shapes == [TINY.latent_size(height, width) + (TINY.latent_channels,)]
  decoded = untrained_model.decode(strings, shapes, height, width)
  assert decoded.shape == (height, width, 3) and decoded.dtype == np.uint8
  np.testing.assert_array_equal(decoded, untrained_model.reconstruct(image))
  assert_forward_pass_pixels(decoded, untrained_model, image)


@pytest.mark.parametrize("height,width", SIZES)
def test_trained_model_decode_reproduces_forward_pass(trained_model, height, width):
  image = photo("coffee")[:height, :width]
  height, width = image.shape[:2]  # coffee is 400 rows high
  strings, shapes = trained_model.encode(image)
  decoded = trained_model.decode(strings, shapes, height, width)
  np.testing.assert_array_equal(decoded, trained_model.reconstruct(image))
  assert_forward_pass_pixels(decoded, trained_model, image)


@pytest.mark.parametrize("name", ["astronaut", "coffee", "chelsea"])
def test_payload_bits_within_one_percent_of_estimate(trained_model, name):
  image = photo(name)
  (bands,), _ = trained_model.encode(image)
  actual, estimate = 8 * sum(map(len, bands)), trained_model.estimate_bits(image)
  print(f"{name}: payload {actual} bits, model estimate {estimate:.0f} bits, "
        f"ratio {actual / estimate:.5f}")
  assert abs(actual / estimate - 1) < 0.01


def test_estimate_matches_entropy_model_formula(trained_model):
  """estimate_bits is the TFC entropy model's own rate under hard quantization."""
  image = photo("rocket")[:64, :96]
  latents = trained_model.analysis(tf.constant(image, tf.float32)[None] / 255.0)
  _, bits = trained_model.training_entropy_model(latents, training=False)
  assert trained_model.estimate_bits(image) == pytest.approx(float(bits[0]), rel=1e-5)


def test_pad_to_multiple_repeats_edges():
  image = np.arange(2 * 3 * 1).reshape(2, 3, 1)
  padded = pad_to_multiple(tf.constant(image), 4).numpy()
  assert padded.shape == (4, 4, 1)
  np.testing.assert_array_equal(padded[:2, :3], image)
  np.testing.assert_array_equal(padded[:, 3], padded[:, 2])
  np.testing.assert_array_equal(padded[3], padded[1])


def test_latent_shape_follows_config():
  config = ModelConfig(num_filters=8, latent_channels=5, kernel_sizes=(9, 5, 5),
                       strides=(4, 2, 2))
  model = create_model(config)
  assert config.downsampling == 16
  latents = model.analysis(tf.zeros((1, 48, 80, 3)))
  assert latents.shape == (1, 3, 5, 5)
  assert model.synthesis(latents).shape == (1, 48, 80, 3)


LOADING_CASES = [dataclasses.replace(TINY, normalization=n) for n in NORMALIZATIONS] + [
    dataclasses.replace(TINY, kernel_sizes=(9, 5, 5), strides=(4, 2, 2)),
    dataclasses.replace(TINY, architecture="hyperprior"),
    dataclasses.replace(TINY, architecture="mean-scale-hyperprior"),
    dataclasses.replace(TINY, architecture="hyperprior", hyper_synthesis="integer")]


@pytest.mark.parametrize("config", LOADING_CASES[:-1],
                         ids=lambda c: f"{c.architecture}-{c.normalization}")
def test_transforms_built_for_a_shape_have_the_weights_of_a_forward_pass(config):
  """What a call on a dummy input creates: the same variables, the same seeded values."""
  model = create_model(config)
  latent_shape = (1, 1, 1, config.latent_channels)
  # Each float transform with the shape of its input for a 16x16 image.
  parts = [(model.analysis, (1, 16, 16, 3)), (model.synthesis, latent_shape)]
  if config.architecture != "factorized":
    parts += [(model.hyper_analysis, latent_shape),
              (model.hyper_synthesis, (1, 1, 1, config.side_filters))]
  for part, shape in parts:
    tf.keras.utils.set_random_seed(3)
    built = type(part).from_config(part.get_config())
    output_shape = build_for_shape(built, shape)
    tf.keras.utils.set_random_seed(3)
    called = type(part).from_config(part.get_config())
    assert output_shape == called(tf.zeros(shape)).shape
    assert [v.shape for v in built.variables] == [v.shape for v in called.variables]
    for a, b in zip(built.variables, called.variables):
      np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.parametrize("config", LOADING_CASES,
                         ids=lambda c: f"{c.architecture}-{c.normalization}-{c.hyper_synthesis}")
def test_a_model_allocated_for_loading_computes_what_the_saved_one_does(config):
  """initialize=False skips the initializers, not a weight: set, it is the same model."""
  model = create_model(config)
  loaded = create_model(config, initialize=False)
  weights = model.named_weights()
  assert {k: v.shape for k, v in loaded.named_weights().items()} == {
      k: v.shape for k, v in weights.items()}
  loaded.set_named_weights(weights)
  images = tf.constant(random_image(48, 32, seed=5)[None], tf.float32)
  expected, expected_bits = model(images, training=False)
  actual, actual_bits = loaded(images, training=False)
  np.testing.assert_array_equal(actual.numpy(), expected.numpy())
  np.testing.assert_array_equal(actual_bits.numpy(), expected_bits.numpy())
  # Loaded again after its kernels were computed, it computes what the new weights do.
  other = create_model(config)
  loaded.set_named_weights(other.named_weights())
  np.testing.assert_array_equal(loaded(images, training=False)[0].numpy(),
                                other(images, training=False)[0].numpy())


def test_kernels_computed_once_code_what_the_layers_compute(trained_model):
  """A loaded model's kernels, computed once, give the bytes and pixels of tfc's own."""
  from compressor.nn.transforms import LoadedRDFTParameter
  assert sum(isinstance(m, LoadedRDFTParameter) for m in trained_model.submodules) == 8
  computing = create_model(trained_model.config)  # kernels from the RDFT in every call
  computing.set_named_weights(trained_model.named_weights())
  computing.set_coding_tables(trained_model.coding_tables())
  image = photo("coffee")[:200, :296]
  strings, shapes = trained_model.encode(image)
  assert computing.encode(image) == (strings, shapes)
  np.testing.assert_array_equal(trained_model.decode(strings, shapes, 200, 296),
                                computing.decode(strings, shapes, 200, 296))


def test_decode_refuses_shapes_that_do_not_fit(untrained_model):
  with pytest.raises(ModelError, match="do not fit"):
    untrained_model.decode([[b""]], [(1, 1, 3)], 16, 16)
  with pytest.raises(ModelError, match="2 coded tensors"):
    untrained_model.decode([[b""], [b""]], [(1, 1, 16)], 16, 16)
  with pytest.raises(ModelError, match="2 payloads cannot code the 1 rows"):
    untrained_model.decode([[b"", b""]], [(1, 1, 16)], 16, 16)


def test_coding_needs_tables():
  model = create_model(TINY)
  with pytest.raises(ModelError, match="no range-coding tables"):
    model.encode(random_image(16, 16))


@pytest.mark.parametrize("fields,message", [
    (dict(kernel_sizes=(5, 5), strides=(2,)), "equal length"),
    (dict(normalization="batch"), "unknown normalization"),
    (dict(num_filters=0), "positive"),
])
def test_config_validation(fields, message):
  with pytest.raises(ModelError, match=message):
    ModelConfig(**fields)


def test_unknown_architecture():
  with pytest.raises(ModelError, match="unknown architecture"):
    create_model(ModelConfig(architecture="autoregressive"))


def test_config_dict_round_trip():
  config = ModelConfig(num_filters=7, latent_channels=3, kernel_sizes=[3, 3], strides=[2, 2])
  assert ModelConfig.from_dict(config.to_dict()) == config
  with pytest.raises(ModelError, match="unknown model config fields: bogus"):
    ModelConfig.from_dict({**config.to_dict(), "bogus": 1})
  hyper = ModelConfig(architecture="hyperprior", hyper_filters=5)
  assert ModelConfig.from_dict(hyper.to_dict()) == hyper


def test_configs_saved_before_hyper_filters_keep_their_fingerprint_text():
  """Unset optional fields stay out of the canonical JSON that fingerprints hash."""
  saved = {"architecture": "factorized", "num_filters": 7, "latent_channels": 3,
           "kernel_sizes": [3, 3], "strides": [2, 2], "normalization": "gdn"}
  config = ModelConfig.from_dict(saved)
  assert config.hyper_filters is None and config.side_filters == 7
  assert config.to_dict() == saved
  assert config.canonical_json() == json.dumps(saved, sort_keys=True, separators=(",", ":"))


def test_transforms_serialize_and_restore_with_keras():
  model = create_model(TINY)
  for transform in (model.analysis, model.synthesis):
    clone = tf.keras.utils.deserialize_keras_object(
        tf.keras.utils.serialize_keras_object(transform))
    assert clone.get_config() == transform.get_config()
    shape = (1, 32, 32, 3) if transform is model.analysis else (1, 2, 2, 16)
    inputs = tf.random.stateless_uniform(shape, seed=(1, 2))
    clone(inputs)
    clone.set_weights(transform.get_weights())
    np.testing.assert_allclose(clone(inputs), transform(inputs), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("normalization", NORMALIZATIONS)
def test_each_normalization_trains_and_codes_exactly(normalization, tmp_path):
  """A training step, then the saved model restores its normalization and decodes exactly."""
  model = create_model(dataclasses.replace(TINY, normalization=normalization))
  images = tf.constant(np.stack([random_image(32, 32, seed=s) for s in (1, 2)]), tf.float32)
  with tf.GradientTape() as tape:
    reconstructions, bits = model(images, training=True)
    loss, _, _ = rate_distortion_loss(images, reconstructions, bits, 0.01)
  gradients = tape.gradient(loss, model.trainable_variables)
  assert np.isfinite(float(loss))
  assert all(np.isfinite(g).all() for g in gradients)
  tf.keras.optimizers.Adam(1e-3).apply_gradients(zip(gradients, model.trainable_variables))
  save_model(model, str(tmp_path / "model"), name="tiny")
  loaded = load_model(str(tmp_path / "model"))
  assert loaded.config.normalization == normalization
  pixels = random_image(19, 35, seed=4)
  data = compress_image(model, DecodedImage(pixels, "RGB"))
  decoded = decompress_bytes(data, loaded).pixels
  np.testing.assert_array_equal(decoded, model.reconstruct(pixels))


def test_coding_tables_are_set_once(untrained_model):
  # Replaced tables would go unused by already traced coding graphs.
  with pytest.raises(ModelError, match="has coding tables already"):
    untrained_model.build_coding_tables()
