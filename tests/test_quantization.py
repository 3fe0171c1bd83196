"""Mixed quantization in training: the synthesis sees the latents the decoder will get."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from compressor.errors import TrainingError
from compressor.nn.registry import create_model
from compressor.training import trainer as training
from compressor.training.trainer import TrainingConfig, train
from conftest import TINY, random_image

IMAGES = tf.constant(np.stack([random_image(64, 64, seed=s) for s in range(2)]), tf.float32)


def factorized_with_offsets():
  """A tiny factorized model whose prior's medians are well off the integers."""
  model = create_model(TINY)
  for variable in model.prior.trainable_variables:
    if "bias" in variable.name:
      variable.assign(variable + tf.random.stateless_uniform(variable.shape, (1, 2), -1, 1))
  model.build_coding_tables()
  return model


def test_factorized_synthesis_sees_the_coders_rounding():
  model = factorized_with_offsets()
  offsets = model.rounding_offsets()
  # Offsets far from 0: rounding at integers would give other latents.
  assert np.max(np.abs(offsets)) > 0.1
  np.testing.assert_allclose(offsets, model.coders["latents"].quantization_offset, atol=1e-5)
  latents = model.analysis(IMAGES / 255.0)
  coded = model.coders["latents"].quantize(latents)
  assert not np.allclose(coded, tf.round(latents))
  reconstruction, bits = model(IMAGES, training=True, rounding_offsets=offsets)
  np.testing.assert_allclose(reconstruction, model.synthesis(coded) * 255.0, atol=1e-3)
  # The rate is still that of the noisy latents, which differs from the coded one.
  _, hard_bits = model(IMAGES, training=False)
  assert not np.allclose(bits, hard_bits)


def test_straight_through_gradient_reaches_the_analysis():
  model = factorized_with_offsets()
  with tf.GradientTape() as tape:
    reconstruction, _ = model(IMAGES, training=True, rounding_offsets=model.rounding_offsets())
    distortion = tf.reduce_mean(tf.square(reconstruction - IMAGES))
  gradients = tape.gradient(distortion, model.analysis.trainable_variables)
  assert all(g is not None for g in gradients)
  assert min(float(tf.reduce_max(tf.abs(g))) for g in gradients) > 0


@pytest.mark.parametrize("architecture", ["hyperprior", "mean-scale-hyperprior"])
def test_hyperprior_synthesis_sees_latents_rounded_at_their_means(architecture, monkeypatch):
  model = create_model(dataclasses.replace(TINY, architecture=architecture))
  seen = {}
  conditionals, synthesis = model._conditionals, model.synthesis

  def recording_conditionals(parameters, training):
    seen["indexes"], seen["means"] = conditionals(parameters, training)
    return seen["indexes"], seen["means"]

  def recording_synthesis(latents):
    seen["synthesis input"] = latents
    return synthesis(latents)

  monkeypatch.setattr(model, "_conditionals", recording_conditionals)
  monkeypatch.setattr(model, "synthesis", recording_synthesis)
  offsets = model.rounding_offsets()
  np.testing.assert_array_equal(offsets, np.zeros(TINY.latent_channels))
  model(IMAGES, training=True, rounding_offsets=offsets)
  latents = model.analysis(IMAGES / 255.0)
  means = 0.0 if seen["means"] is None else seen["means"]
  assert (seen["means"] is None) == (architecture == "hyperprior")
  np.testing.assert_allclose(seen["synthesis input"], tf.round(latents - means) + means,
                             atol=1e-4)
  # Without mixed quantization the synthesis input is the latents plus noise.
  model(IMAGES, training=True)
  assert not np.allclose(seen["synthesis input"], tf.round(latents - means) + means,
                         atol=1e-4)


def test_unknown_quantization_is_refused(tmp_path):
  Image.fromarray(random_image(64, 64)).save(tmp_path / "image.png")
  config = TrainingConfig(train_glob=str(tmp_path / "*.png"), quantization="soft")
  with pytest.raises(TrainingError, match=r"^unknown quantization 'soft'; choose one of "
                                          r"noise, mixed$"):
    train(str(tmp_path / "run"), TINY, config)


def test_offsets_are_refreshed_on_schedule_and_at_every_start(tmp_path, monkeypatch):
  Image.fromarray(random_image(64, 64)).save(tmp_path / "image.png")
  monkeypatch.setattr(training, "ROUNDING_REFRESH_STEPS", 2)
  refreshed_at = []
  original = training._Trainer._rounding_offsets

  def recording(trainer):
    refreshed_at.append(int(trainer.step))
    return original(trainer)

  monkeypatch.setattr(training._Trainer, "_rounding_offsets", recording)

  def run(steps):
    train(str(tmp_path / "run"), TINY, TrainingConfig(
        train_glob=str(tmp_path / "*.png"), patch_size=64, batch_size=1, steps=steps,
        checkpoint_every=5, log_every=5, quantization="mixed"))
  run(5)
  assert refreshed_at == [0, 2, 4]
  run(7)  # resumes at step 5, where the offsets are not yet those of the prior
  assert refreshed_at == [0, 2, 4, 5, 6]
