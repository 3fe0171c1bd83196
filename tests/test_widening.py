"""Widening: a wider model made from a trained one computes what it did, and can learn more."""

import dataclasses
import os
import subprocess

import numpy as np
import pytest
import tensorflow as tf

from compressor.cli import command_line
from compressor.coding.codec import compress_image, decompress_bytes
from compressor.coding.images import DecodedImage
from compressor.coding.store import load_model
from compressor.errors import ModelError
from compressor.nn import widening
from compressor.nn.registry import create_model
from conftest import TINY, photo

WIDE = dataclasses.replace(TINY, num_filters=24, latent_channels=20)
NEW_LATENTS = WIDE.latent_channels - TINY.latent_channels


def _widened(source):
  wide = create_model(widening.widened_config(source.config, num_filters=WIDE.num_filters,
                                              latent_channels=WIDE.latent_channels))
  widening.widen(source, wide)
  return wide


def test_widened_model_computes_what_the_narrow_one_did(trained_model):
  wide = _widened(trained_model)
  image = photo("coffee")[:96, :128]
  x = tf.constant(image[None], tf.float32) / 255.0
  narrow_latents, wide_latents = trained_model.analysis(x), wide.analysis(x)
  np.testing.assert_allclose(wide_latents[..., :TINY.latent_channels], narrow_latents,
                             atol=1e-4)
  assert np.all(wide_latents[..., TINY.latent_channels:].numpy() == 0)

  narrow_pixels, narrow_bits = trained_model.hard_reconstruction(image)
  wide_pixels, wide_bits = wide.hard_reconstruction(image)
  difference = np.abs(narrow_pixels.astype(int) - wide_pixels)
  assert difference.max() <= 1 and np.mean(difference == 0) > 0.99
  # Each new latent is a zero, whose bin has probability tanh(0.25 / scale) under its prior.
  new_latents = NEW_LATENTS * np.prod(WIDE.latent_size(*image.shape[:2]))
  per_latent = -np.log2(np.tanh(0.25 / widening.NEW_LATENT_SCALE))
  extra = float(wide_bits[0] - narrow_bits[0])
  assert 0 <= extra <= 1.5 * new_latents * per_latent + 1e-3


def test_new_channels_get_gradients_where_their_weights_are_zero(trained_model):
  wide = _widened(trained_model)
  images = tf.constant(photo("astronaut")[None, :64, :64], tf.float32)
  last_analysis = wide.analysis.layers[-1].kernel_parameter.real
  hidden_synthesis = wide.synthesis.layers[1].kernel_parameter.real
  with tf.GradientTape() as tape:
    reconstructions, bits = wide(images, training=True)
    loss = tf.reduce_mean(bits) + 100 * tf.reduce_mean(tf.square(reconstructions - images))
  analysis_gradient, synthesis_gradient = (
      g.numpy() for g in tape.gradient(loss, [last_analysis, hidden_synthesis]))
  # Zero kernels into the new latents, and from new hidden channels into old ones.
  assert np.all(last_analysis.numpy()[:, TINY.latent_channels:] == 0)
  assert np.abs(analysis_gradient[:, TINY.latent_channels:]).max() > 0
  assert np.all(hidden_synthesis.numpy()[TINY.num_filters:, :TINY.num_filters] == 0)
  assert np.abs(synthesis_gradient[TINY.num_filters:, :TINY.num_filters]).max() > 0


def test_widening_only_adds_channels_to_factorized_models():
  with pytest.raises(ModelError, match="cannot remove channels: num_filters 8 < 16"):
    widening.widened_config(TINY, num_filters=8)
  with pytest.raises(ModelError, match="changes only num_filters and latent_channels"):
    widening.widened_config(TINY, strides=(2, 2))
  with pytest.raises(ModelError, match="only factorized models"):
    widening.widened_config(dataclasses.replace(TINY, architecture="hyperprior"),
                            num_filters=32)
  with pytest.raises(ModelError, match="not a widening"):
    widening.widen(create_model(TINY),
                   create_model(dataclasses.replace(WIDE, normalization="relu")))


def _train(photo_dir, model_dir, *flags):
  return subprocess.run(command_line(
      "train", "--model_dir", model_dir, "--train_glob", str(photo_dir / "*.png"),
      "--patchsize=64", "--batchsize=2", *flags), capture_output=True, text=True, timeout=300)


def test_training_from_a_model_with_more_channels_widens_it(photo_dir, tmp_path,
                                                            trained_model_dir, trained_model):
  model_dir = str(tmp_path / "wide")
  widths = (f"--num_filters={WIDE.num_filters}", f"--latent_channels={WIDE.latent_channels}")
  result = _train(photo_dir, model_dir, "--init_from", trained_model_dir, *widths, "--steps=0")
  assert result.returncode == 0, result.stderr
  assert "widened from num_filters 16, latent_channels 16 to num_filters 24" in result.stderr
  wide = load_model(model_dir)
  assert wide.config == WIDE
  assert wide.metadata["total_steps"] == trained_model.metadata["total_steps"]

  # Real bitstreams: the same pixels, up to one level, and about the same size.
  image = DecodedImage(photo("chelsea")[:128, :160], "RGB")
  files = [compress_image(model, image) for model in (trained_model, wide)]
  decoded = [decompress_bytes(data, model).pixels
             for data, model in zip(files, (trained_model, wide))]
  assert np.abs(decoded[0].astype(int) - decoded[1]).max() <= 1
  name_bytes = len(wide.model_name) - len(trained_model.model_name)
  assert abs(len(files[1]) - len(files[0]) - name_bytes) <= 4

  # The widened run resumes with the same flags.
  result = _train(photo_dir, model_dir, "--init_from", trained_model_dir, *widths, "--steps=2")
  assert result.returncode == 0, result.stderr
  assert load_model(model_dir).metadata["steps"] == 2

  narrower = str(tmp_path / "narrower")
  result = _train(photo_dir, narrower, "--init_from", trained_model_dir, "--num_filters=8",
                  "--steps=0")
  assert result.returncode != 0
  assert result.stderr.strip().splitlines()[-1].endswith(
      "widening cannot remove channels: num_filters 8 < 16")
  assert not os.path.exists(os.path.join(narrower, "weights.npz"))
