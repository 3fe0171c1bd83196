"""bfloat16 training: hidden convolutions in bfloat16; the rest, and exports, in float32."""

import json

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_compression as tfc
from test_training import config, real_loss

from compressor.coding.store import load_model
from compressor.nn.loss import rate_distortion_loss
from compressor.nn.registry import create_model
from compressor.training import precision
from compressor.training import trainer as training
from compressor.training.precision import resolve_precision, training_precision
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


@pytest.mark.parametrize("name", ["float16", "auto"])
def test_unknown_precision_is_refused(name):
  with pytest.raises(ValueError, match=f"unknown precision '{name}'"):
    with training_precision(create_model(TINY), name):
      pass


def convolution_ops(run):
  """(op type, dtype) of every convolution in a trainer's traced training step."""
  batch = next(run._batches())
  graph = run._train_step.get_concrete_function(batch).graph
  return {(op.type, op.get_attr("T").name) for op in graph.get_operations()
          if op.type.startswith("Conv2D")}


def test_cpu_flags_name_the_bfloat16_instructions(tmp_path):
  cpuinfo = tmp_path / "cpuinfo"
  core = "processor\t: {}\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse4_2 avx2 fma {}\n\n"
  cpuinfo.write_text(core.format(0, "avx512f avx512_bf16") + core.format(1, "avx512f avx512_bf16"))
  assert precision.bfloat16_instructions(str(cpuinfo)) == ["avx512_bf16"]
  cpuinfo.write_text(core.format(0, "amx_tile amx_bf16 avx512_bf16"))
  assert precision.bfloat16_instructions(str(cpuinfo)) == ["avx512_bf16", "amx_bf16"]
  # avx512_fp16 and avx512bw are other instructions.
  cpuinfo.write_text(core.format(0, "avx512f avx512bw avx512_fp16"))
  assert precision.bfloat16_instructions(str(cpuinfo)) == []
  assert precision.bfloat16_instructions(str(tmp_path / "absent")) is None


def test_auto_takes_bfloat16_only_where_the_cpu_has_it():
  assert resolve_precision("auto", ["amx_bf16"], False)[:2] == (
      "bfloat16", "precision auto: bfloat16 (this CPU has amx_bf16)")
  chosen, note, warn = resolve_precision("auto", [], False)
  assert (chosen, warn) == ("float32", False) and "has none of AVX512_BF16, AMX_BF16" in note
  assert "cannot say" in resolve_precision("auto", None, False)[1]
  assert resolve_precision("auto", ["avx512_bf16"], True)[:2] == (
      "float32", "precision auto: float32 (a GPU is visible)")
  # What is asked for explicitly is what trains; emulated bfloat16 with a warning.
  chosen, note, warn = resolve_precision("bfloat16", [], False)
  assert (chosen, warn) == ("bfloat16", True) and "emulates" in note
  assert resolve_precision("bfloat16", ["avx512_bf16"], False) == ("bfloat16", None, False)
  assert resolve_precision("bfloat16", None, False) == ("bfloat16", None, False)
  assert resolve_precision("float32", ["avx512_bf16"], False) == ("float32", None, False)
  with pytest.raises(ValueError, match="unknown precision 'fp16'"):
    resolve_precision("fp16", [], False)


@pytest.mark.parametrize("instructions, chosen, dtypes", [
    (["avx512_bf16"], "bfloat16", {"bfloat16", "float32"}), ([], "float32", {"float32"})])
def test_the_trainer_follows_auto(photo_dir, tmp_path, monkeypatch, instructions, chosen, dtypes):
  monkeypatch.setattr(precision, "bfloat16_instructions", lambda: instructions)
  model_dir = tmp_path / "run"
  run = training._Trainer(str(model_dir), TINY, config(photo_dir, precision="auto"), None)
  assert {dtype for _, dtype in convolution_ops(run)} == dtypes
  run._write_train_config()
  written = json.loads((model_dir / "train_config.json").read_text())
  assert (written["training"]["precision"], written["precision_used"]) == ("auto", chosen)


def test_the_training_step_convolves_in_bfloat16_and_exports_float32(photo_dir, tmp_path):
  model_dir = str(tmp_path / "run")
  run = training._Trainer(model_dir, TINY, config(photo_dir, precision="bfloat16"), None)
  ops = convolution_ops(run)
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
