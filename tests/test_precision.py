"""bfloat16 training: hidden convolutions in bfloat16; the rest, and exports, in float32."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_compression as tfc
from test_training import config, real_loss

from compressor.coding.store import load_model
from compressor.nn.loss import rate_distortion_loss
from compressor.nn.registry import create_model
from compressor.training import trainer as training
from compressor.training.precision import training_precision
from conftest import TINY, photo


def convolutions(model):
  return [layer for transform in (model.analysis, model.synthesis) for layer in transform.layers
          if isinstance(layer, tfc.SignalConv2D)]


def loss_and_gradients(model, images, precision):
  tf.random.set_seed(0)  # The same training noise in every call.
  with tf.GradientTape() as tape, training_precision(model, precision):
    reconstructions, bits = model(images, training=True)
    assert reconstructions.dtype == bits.dtype == tf.float32
    loss, _, _ = rate_distortion_loss(images, reconstructions, bits, 0.01)
  gradients = tape.gradient(loss, model.trainable_variables)
  return float(loss), np.concatenate([g.numpy().ravel() for g in gradients])


def test_bfloat16_covers_the_hidden_convolutions_and_ends_with_the_context():
  model = create_model(TINY)
  layers = convolutions(model)
  with training_precision(model, "bfloat16"):
    dtypes = [layer.compute_dtype for layer in layers]
    # Each transform's last convolution (latents, pixels) and the normalizations stay float32.
    assert dtypes == ["bfloat16"] * 3 + ["float32"] + ["bfloat16"] * 3 + ["float32"]
    assert {layer.activation.compute_dtype for layer in layers
            if isinstance(layer.activation, tf.keras.layers.Layer)} == {"float32"}
  assert [layer.compute_dtype for layer in layers] == ["float32"] * 8
  assert all(v.dtype == tf.float32 for v in model.variables)


def test_bfloat16_loss_and_gradients_approximate_float32():
  tf.keras.utils.set_random_seed(1)
  model = create_model(TINY)
  images = tf.constant(photo("astronaut")[None, 100:164, 180:244], tf.float32)
  loss32, gradients32 = loss_and_gradients(model, images, "float32")
  loss16, gradients16 = loss_and_gradients(model, images, "bfloat16")
  # Computed in bfloat16 (8 bits of mantissa): not the same numbers, but close ones.
  assert 0 < abs(loss16 - loss32) < 1e-3 * loss32
  cosine = gradients16 @ gradients32 / np.linalg.norm(gradients16) / np.linalg.norm(gradients32)
  assert cosine > 0.98  # 0.985-0.996 over initial weights
  # And float32 again after the context.
  assert loss_and_gradients(model, images, "float32")[0] == loss32


def test_unknown_precision_is_refused():
  with pytest.raises(ValueError, match="unknown precision 'float16'"):
    with training_precision(create_model(TINY), "float16"):
      pass


def test_the_training_step_convolves_in_bfloat16_and_exports_float32(photo_dir, tmp_path):
  model_dir = str(tmp_path / "run")
  run = training._Trainer(model_dir, TINY, config(photo_dir, precision="bfloat16"), None)
  batch = next(run._batches())
  graph = run._train_step.get_concrete_function(batch).graph
  ops = {(op.type, op.get_attr("T").name) for op in graph.get_operations()
         if op.type.startswith("Conv2D")}
  # Forward and backward, analysis (Conv2D) and synthesis (its transpose), in bfloat16;
  # the last convolutions in float32.
  assert {("Conv2D", "bfloat16"), ("Conv2DBackpropInput", "bfloat16"),
          ("Conv2DBackpropFilter", "bfloat16"), ("Conv2D", "float32")} <= ops

  training.train(model_dir, TINY, config(photo_dir, steps=0, precision="bfloat16"))
  before = real_loss(model_dir)
  training.train(model_dir, TINY, config(photo_dir, steps=60, precision="bfloat16"))
  assert real_loss(model_dir) < 0.8 * before
  model = load_model(model_dir)
  assert {layer.compute_dtype for layer in convolutions(model)} == {"float32"}
