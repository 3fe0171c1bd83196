"""The hyperprior models: exact round trips, shared entropy parameters, honest rates."""

import dataclasses
import json
import os
import types

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st
from test_models import assert_forward_pass_pixels

from compressor.coding import container
from compressor.coding.codec import compress_image, decompress_bytes
from compressor.coding.images import DecodedImage
from compressor.coding.store import load_model, save_model
from compressor.errors import BitstreamError, ModelError
from compressor.evaluation.metrics import mse
from compressor.nn import hyperprior
from compressor.nn.transforms import HyperAnalysisTransform, HyperSynthesisTransform
from compressor.tools.fuzzing import decode_untrusted
from compressor.training.trainer import TrainingConfig, train
from conftest import TINY, photo, random_image

ARCHITECTURES = ["hyperprior", "mean-scale-hyperprior"]
SIZES = [(1, 1), (17, 33), (64, 64), (100, 75)]
LAMBDA = 0.01
# Fewer side channels than latent ones, so that a mix-up of the two shows.
SIDE_CHANNELS = 8


def real_loss(model):
  """bpp of a real bitstream plus lambda * MSE of its decoding, on a photo crop."""
  image = photo("astronaut")[:128, :128]
  data = compress_image(model, DecodedImage(image, "RGB"))
  decoded = decompress_bytes(data, model).pixels
  return 8 * len(data) / (128 * 128) + LAMBDA * mse(image, decoded)


@pytest.fixture(scope="module", params=ARCHITECTURES)
def trained(request, tmp_path_factory, photo_dir):
  """A tiny model of each architecture trained for 40 steps, and its real loss before and after."""
  architecture = request.param
  directory = tmp_path_factory.mktemp("hyperprior")
  model_dir = str(directory / architecture)
  model_config = dataclasses.replace(TINY, architecture=architecture,
                                     hyper_filters=SIDE_CHANNELS)
  config = TrainingConfig(train_glob=str(photo_dir / "*.png"), lmbda=LAMBDA, patch_size=64,
                          batch_size=4, steps=40, learning_rate=1e-3, clip_norm=1.0,
                          log_every=20, checkpoint_every=40, seed=1)
  # The same seed starts both runs from the same weights.
  untrained_dir = str(directory / "untrained")
  train(untrained_dir, model_config, dataclasses.replace(config, steps=0), name=architecture)
  loss_before = real_loss(load_model(untrained_dir))
  train(model_dir, model_config, config, name=architecture)
  model = load_model(model_dir)
  return types.SimpleNamespace(architecture=architecture, dir=model_dir, model=model,
                               loss_before=loss_before, loss_after=real_loss(model))


@pytest.mark.parametrize("height,width", SIZES)
def test_bitstream_decodes_to_the_hard_forward_pass(trained, height, width):
  model = trained.model
  image = photo("coffee")[:height, :width].copy()
  data = compress_image(model, DecodedImage(image, "RGB"))
  header, payloads = container.unpack(data)
  assert list(header.coded_shapes) == model.coded_shapes(height, width)
  assert len(payloads) == 2 and header.coded_shapes[0][2] == SIDE_CHANNELS
  decoded = decompress_bytes(data, model).pixels
  np.testing.assert_array_equal(decoded, model.reconstruct(image))
  if trained.architecture == "hyperprior":
    # Without predicted means, quantization is plain rounding, as in Keras' own
    # forward pass. (Means computed eagerly can differ from the coding graph's
    # in the last bits, which can move a rounding boundary.)
    assert_forward_pass_pixels(decoded, model, image)


def test_decoder_derives_the_encoders_entropy_parameters(trained):
  """Indexes and means from decoded side information, in a separately loaded model."""
  encoder, decoder = trained.model, load_model(trained.dir)
  image = photo("chelsea")[:100, :75].copy()
  strings, (side_shape, latent_shape) = encoder.encode(image)
  latents, side = encoder._analyze(image)
  decoded_side = decoder._range_decode_side(strings[0], side_shape)
  np.testing.assert_array_equal(decoded_side, side)
  indexes, means = encoder._conditionals(
      encoder._entropy_parameters(side, latent_shape[:2]), training=False)
  decoded_indexes, decoded_means = decoder._conditionals(
      decoder._entropy_parameters(decoded_side, latent_shape[:2]), training=False)
  np.testing.assert_array_equal(decoded_indexes, indexes)
  assert np.array_equal(indexes, np.round(indexes))
  assert len(np.unique(np.clip(indexes, 0, 63))) > 1, "the test needs varied scales"
  if trained.architecture == "mean-scale-hyperprior":
    np.testing.assert_array_equal(decoded_means, means)
  else:
    assert means is None and decoded_means is None


def test_a_decoder_that_derives_another_index_fails_loudly(trained, monkeypatch):
  """What a machine that rounded one index differently would see (see docs/models.md)."""
  model = trained.model
  image = photo("coffee")[:128, :128].copy()
  strings, (side_shape, latent_shape) = model.encode(image)
  _, side = model._analyze(image)
  parameters = model._entropy_parameters(side, latent_shape[:2]).numpy()
  # A log scale (the last channel) in the middle of the payload, one table step away.
  row, col = latent_shape[0] // 2, latent_shape[1] // 2
  index = model._conditionals(parameters, training=False)[0][0, row, col, -1]
  parameters[0, row, col, -1] += hyperprior.LOG_SCALE_STEP * (1 if index < 32 else -1)
  monkeypatch.setattr(model, "_entropy_parameters", lambda side, size: tf.constant(parameters))
  with pytest.raises(BitstreamError, match="latent payload is corrupt"):
    model._range_decode(strings, [side_shape, latent_shape])


@pytest.fixture(scope="module", params=ARCHITECTURES)
def seeded(request, tmp_path_factory, photo_dir):
  """A model of each architecture exported from a fixed seed before any step."""
  model_dir = str(tmp_path_factory.mktemp("seeded") / request.param)
  model_config = dataclasses.replace(TINY, architecture=request.param,
                                     hyper_filters=SIDE_CHANNELS)
  train(model_dir, model_config,
        TrainingConfig(train_glob=str(photo_dir / "*.png"), steps=0, seed=1),
        name=request.param)
  return load_model(model_dir)


def payload_and_estimate(model, image):
  strings, _ = model.encode(image)
  return 8 * sum(len(band) for bands in strings for band in bands), model.estimate_bits(image)


@pytest.mark.parametrize("name", ["astronaut", "coffee"])
def test_payload_bits_match_the_estimate(seeded, name):
  """The coder costs what the entropy models estimate, within 1%."""
  actual, estimate = payload_and_estimate(seeded, photo(name))
  print(f"{name}: payloads {actual} bits, estimate {estimate:.0f} bits, "
        f"ratio {actual / estimate:.5f}")
  assert 0.99 < actual / estimate < 1.01


@pytest.mark.parametrize("name", ["astronaut", "coffee"])
def test_a_trained_model_never_costs_more_than_its_estimate(trained, name):
  """After training, the coder may cost less than the estimate, never more.

  After 40 steps the scale model still predicts too small a scale for some
  latents. The estimate charges such an outlier its Gaussian tail; the coder
  stores it with its escape code, for fewer bits. How many outliers there are
  varies between runs (ratios from 0.83 to 0.97 have been seen), so only the
  upper bound is fixed here; the seeded models above check both sides.
  """
  actual, estimate = payload_and_estimate(trained.model, photo(name))
  print(f"{trained.architecture} {name}: ratio {actual / estimate:.5f}")
  assert actual / estimate < 1.01


def test_training_lowers_the_real_loss(trained):
  print(f"{trained.architecture}: real rate-distortion loss {trained.loss_before:.3f} "
        f"untrained, {trained.loss_after:.3f} after 40 steps")
  assert trained.loss_after < 0.8 * trained.loss_before


def test_saved_model_keeps_fingerprint_tables_and_decoding(trained, tmp_path):
  with open(os.path.join(trained.dir, "model.json")) as f:
    description = json.load(f)
  assert description["fingerprint"] == trained.model.fingerprint.hex()
  assert description["config"]["hyper_filters"] == SIDE_CHANNELS
  with np.load(os.path.join(trained.dir, "weights.npz")) as saved:
    tables = {k: saved[k] for k in saved.files if k.startswith("coding/")}
  assert sorted(tables) == ["coding/latents/cdf", "coding/latents/cdf_offset",
                            "coding/side/cdf", "coding/side/cdf_offset",
                            "coding/side/quantization_offset"]
  for name, table in trained.model.coding_tables().items():
    np.testing.assert_array_equal(table, tables["coding/" + name])
  # Saved again, the loaded model writes the same arrays: the same fingerprint.
  again = str(tmp_path / "again")
  assert save_model(trained.model, again, trained.architecture) == trained.model.fingerprint
  image = photo("rocket")[:50, :70].copy()
  data = compress_image(trained.model, DecodedImage(image, "RGB"))
  decoded = decompress_bytes(data, load_model(again)).pixels
  np.testing.assert_array_equal(decoded, trained.model.reconstruct(image))


def test_alpha_plane_follows_both_coded_payloads(trained):
  pixels = random_image(21, 19, channels=4, seed=3)
  data = compress_image(trained.model, DecodedImage(pixels, "RGBA"))
  header, payloads = container.unpack(data)
  assert list(header.coded_shapes) == trained.model.coded_shapes(21, 19)
  assert len(payloads) == 3
  decoded = decompress_bytes(data, trained.model).pixels
  np.testing.assert_array_equal(decoded[..., 3], pixels[..., 3])
  np.testing.assert_array_equal(decoded[..., :3], trained.model.reconstruct(pixels[..., :3]))


def test_factorized_model_refuses_a_hyperprior_bitstream(trained, untrained_model, tmp_path):
  save_model(untrained_model, str(tmp_path / "factorized"), "factorized")
  data = compress_image(trained.model, DecodedImage(photo("coffee")[:40, :56].copy(), "RGB"))
  with pytest.raises(ModelError, match=f"made by model '{trained.architecture}' .*not by "
                                       "the given model 'factorized'"):
    decompress_bytes(data, untrained_model)
  # With a forged fingerprint, the two coded shapes still do not fit the model.
  header, payloads = container.unpack(data)
  forged = dataclasses.replace(header, fingerprint=untrained_model.fingerprint)
  with pytest.raises(BitstreamError, match="do not fit"):
    decompress_bytes(container.pack(forged, payloads), untrained_model)


@settings(max_examples=20, deadline=None)
@given(payload=st.sampled_from([0, 1]),
       edits=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)),
                      min_size=1, max_size=4))
def test_garbled_side_information_or_latents_fail_cleanly(trained, payload, edits):
  """Valid containers around corrupt payloads: decoded to some image, or refused."""
  data = compress_image(trained.model, DecodedImage(photo("astronaut")[:48, :40].copy(), "RGB"))
  header, payloads = container.unpack(data)
  garbled = bytearray(payloads[payload])
  for position, value in edits:
    garbled[position % len(garbled)] = value
  payloads[payload] = bytes(garbled)
  outcome = decode_untrusted(container.pack(header, payloads), trained.model)
  assert outcome in ("decoded", "BitstreamError")


def test_hyper_transforms_serialize_and_restore_with_keras():
  for transform, shape in ((HyperAnalysisTransform(8), (1, 5, 3, 16)),
                           (HyperSynthesisTransform(8, 32), (1, 2, 1, 8))):
    inputs = tf.random.stateless_uniform(shape, seed=(1, 2))
    outputs = transform(inputs)
    clone = tf.keras.utils.deserialize_keras_object(
        tf.keras.utils.serialize_keras_object(transform))
    assert clone.get_config() == transform.get_config()
    clone(inputs)
    clone.set_weights(transform.get_weights())
    np.testing.assert_allclose(clone(inputs), outputs, rtol=1e-6, atol=1e-6)
  assert outputs.shape == (1, 8, 4, 32)
