"""Training: the loss goes down, runs resume, interruptions and NaNs lose nothing."""

import dataclasses
import glob
import os
import shutil
import signal
import subprocess

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from compressor.cli import command_line
from compressor.coding import zoo
from compressor.coding.codec import compress_image
from compressor.coding.images import DecodedImage
from compressor.coding.store import load_model
from compressor.errors import ModelError, TrainingError
from compressor.evaluation.metrics import mse
from compressor.nn.loss import rate_distortion_loss
from compressor.nn.registry import create_model
from compressor.training import trainer as training
from compressor.training.averaging import WeightAverage
from compressor.training.data import cached_training_dataset, decode_for_cache, training_dataset
from compressor.training.trainer import TrainingConfig, resolve_model_config, train
from conftest import TINY, photo

LAMBDA = 0.01


def config(photo_dir, **overrides):
  values = dict(train_glob=str(photo_dir / "*.png"), lmbda=LAMBDA, patch_size=64,
                batch_size=4, steps=10, learning_rate=1e-3, clip_norm=1.0, log_every=5,
                checkpoint_every=5, seed=3)
  values.update(overrides)
  return TrainingConfig(**values)


def real_loss(model_dir):
  """bpp of real bitstreams + lambda * MSE of their decodings, on two photos."""
  model = load_model(model_dir)
  losses = []
  for name in ("astronaut", "coffee"):
    image = photo(name)[:128, :128]
    data = compress_image(model, DecodedImage(image, "RGB"))
    losses.append(8 * len(data) / (128 * 128) + LAMBDA * mse(image, model.reconstruct(image)))
  return float(np.mean(losses))


def checkpoint_value(model_dir, suffix):
  reader = tf.train.load_checkpoint(os.path.join(model_dir, "checkpoints"))
  keys = [k for k in reader.get_variable_to_shape_map() if k.endswith(suffix)]
  assert len(keys) == 1, keys
  return int(reader.get_tensor(keys[0]))


def test_training_lowers_the_loss_and_resumes(photo_dir, tmp_path):
  model_dir = str(tmp_path / "run")
  train(model_dir, TINY, config(photo_dir, steps=0))
  before = real_loss(model_dir)
  train(model_dir, TINY, config(photo_dir, steps=10))
  assert checkpoint_value(model_dir, "step/.ATTRIBUTES/VARIABLE_VALUE") == 10
  train(model_dir, TINY, config(photo_dir, steps=60))
  after = real_loss(model_dir)
  print(f"real rate-distortion loss: {before:.3f} at init, {after:.3f} after 60 steps")
  assert after < 0.8 * before
  assert checkpoint_value(model_dir, "step/.ATTRIBUTES/VARIABLE_VALUE") == 60
  # Adam's step count was restored too, not restarted at the resume.
  assert checkpoint_value(model_dir, "optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE") == 60
  assert load_model(model_dir).metadata["steps"] == 60


def test_non_finite_loss_stops_and_keeps_last_good_checkpoint(photo_dir, tmp_path,
                                                             monkeypatch):
  real = training.rate_distortion_loss
  calls = tf.Variable(0)

  def poisoned(images, reconstructions, bits, lmbda):
    loss, bpp, mse = real(images, reconstructions, bits, lmbda)
    calls.assign_add(1)
    return tf.where(calls > 7, tf.constant(np.nan), loss), bpp, mse

  monkeypatch.setattr(training, "rate_distortion_loss", poisoned)
  model_dir = str(tmp_path / "nan")
  with pytest.raises(TrainingError, match="loss became nan at step 8.*checkpoint is step 5"):
    train(model_dir, TINY, config(photo_dir, steps=20))
  assert tf.train.latest_checkpoint(os.path.join(model_dir, "checkpoints")).endswith("-5")
  assert not os.path.exists(os.path.join(model_dir, "weights.npz"))
  monkeypatch.setattr(training, "rate_distortion_loss", real)
  train(model_dir, TINY, config(photo_dir, steps=6))
  assert load_model(model_dir).metadata["steps"] == 6


def test_sigterm_saves_a_checkpoint_exports_and_the_same_command_resumes(photo_dir, tmp_path):
  model_dir = str(tmp_path / "killed")
  command = command_line("train", "--model_dir", model_dir,
                         "--train_glob", str(photo_dir / "*.png"), "--num_filters=8",
                         "--latent_channels=8", "--kernel_sizes=5,5", "--strides=2,2",
                         "--patchsize=32", "--batchsize=2", "--steps=100000", "--log_every=1",
                         "--checkpoint_every=100000", "--learning_rate=1e-3")
  process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
  for line in process.stderr:
    if "step 25/" in line:
      process.send_signal(signal.SIGTERM)
      break
  rest = process.communicate(timeout=120)[1]
  assert process.returncode == 1
  assert "interrupted at step" in rest and "run the same command again" in rest
  saved = checkpoint_value(model_dir, "step/.ATTRIBUTES/VARIABLE_VALUE")
  assert saved >= 25
  # Exported at the checkpoint's step, so the stopped run can be measured as it is.
  assert load_model(model_dir).metadata["steps"] == saved
  command[command.index("--steps=100000")] = f"--steps={saved + 3}"
  result = subprocess.run(command, capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stderr
  assert f"at step {saved}" in result.stderr
  assert load_model(model_dir).metadata["steps"] == saved + 3


def test_resume_with_another_architecture_is_refused(photo_dir, tmp_path):
  model_dir = str(tmp_path / "arch")
  train(model_dir, TINY, config(photo_dir, steps=0))
  assert resolve_model_config(model_dir, {}) == TINY
  assert resolve_model_config(model_dir, {"num_filters": 16}) == TINY
  with pytest.raises(TrainingError, match=r"--num_filters=32 \(saved: 16\)"):
    resolve_model_config(model_dir, {"num_filters": 32})
  with pytest.raises(TrainingError, match=r"--kernel_sizes=3,3,3,3 \(saved: 5,5,5,5\)"):
    resolve_model_config(model_dir, {"kernel_sizes": [3, 3, 3, 3]})
  hyperprior_dir = str(tmp_path / "hyperprior")
  train(hyperprior_dir, dataclasses.replace(TINY, architecture="hyperprior"),
        config(photo_dir, steps=0))
  # The flag's "float" is the config's None.
  with pytest.raises(TrainingError, match=r"--hyper_synthesis=integer \(saved: float\)"):
    resolve_model_config(hyperprior_dir, {"hyper_synthesis": "integer"})


def test_small_and_unreadable_images_in_the_pipeline(tmp_path):
  Image.fromarray(photo("coffee")[:20, :40]).save(tmp_path / "small.png")
  (tmp_path / "broken.png").write_bytes(b"not a png")
  files = [str(tmp_path / "small.png"), str(tmp_path / "broken.png")]
  batch = next(iter(training_dataset(files, patch_size=32, batch_size=3, seed=0)))
  assert batch.shape == (3, 32, 32, 3) and batch.dtype == tf.float32
  assert 0 <= float(tf.reduce_min(batch)) and float(tf.reduce_max(batch)) <= 255


def test_no_training_images(tmp_path):
  with pytest.raises(TrainingError, match="no files match"):
    train(str(tmp_path / "m"), TINY, TrainingConfig(train_glob=str(tmp_path / "*.png")))
  (tmp_path / "notes.txt").write_text("not an image")
  Image.fromarray(photo("coffee")[:8, :8]).save(tmp_path / "photo.tiff")
  with pytest.raises(TrainingError, match="none of the 2 files"):
    train(str(tmp_path / "m"), TINY, TrainingConfig(train_glob=str(tmp_path / "*")))


def test_files_tf_cannot_decode_are_skipped(tmp_path):
  from compressor.training.data import list_images
  Image.fromarray(photo("coffee")[:8, :8]).save(tmp_path / "a.png")
  Image.fromarray(photo("coffee")[:8, :8]).save(tmp_path / "b.tiff")
  (tmp_path / "c.jpg").write_bytes(b"garbage")
  assert list_images(str(tmp_path / "*")) == [str(tmp_path / "a.png")]


def test_init_from_starts_a_new_run_from_another_runs_checkpoint(photo_dir, tmp_path):
  source = str(tmp_path / "source")
  train(source, TINY, config(photo_dir, steps=10))
  tuned = str(tmp_path / "tuned")
  # The architecture comes from the source run, not from the defaults.
  assert resolve_model_config(tuned, {}, init_from=source) == TINY
  train(tuned, TINY, config(photo_dir, steps=10, lmbda=0.05, learning_rate=3e-4,
                            init_from=source))
  # Already at step 10: nothing to train, so the export equals the source's weights.
  for name, value in load_model(source).named_weights().items():
    np.testing.assert_array_equal(load_model(tuned).named_weights()[name], value)
  train(tuned, TINY, config(photo_dir, steps=15, lmbda=0.05, learning_rate=3e-4,
                            init_from=source))
  assert checkpoint_value(tuned, "step/.ATTRIBUTES/VARIABLE_VALUE") == 15
  assert checkpoint_value(tuned, "optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE") == 15
  reader = tf.train.load_checkpoint(os.path.join(tuned, "checkpoints"))
  rate = [k for k in reader.get_variable_to_shape_map() if "learning_rate" in k]
  assert len(rate) == 1 and reader.get_tensor(rate[0]) == pytest.approx(3e-4)
  assert load_model(tuned).metadata["lambda"] == 0.05
  assert checkpoint_value(source, "step/.ATTRIBUTES/VARIABLE_VALUE") == 10  # untouched


def test_init_from_needs_a_checkpoint_or_a_model(photo_dir, tmp_path):
  neither = "is neither a training directory .* nor a bundled model's name"
  with pytest.raises(TrainingError, match=neither):
    resolve_model_config(str(tmp_path / "new"), {}, init_from=str(tmp_path))
  with pytest.raises(TrainingError, match=neither):
    train(str(tmp_path / "new"), TINY, config(photo_dir, init_from=str(tmp_path)))
  (tmp_path / "run" / "checkpoints").mkdir(parents=True)
  with pytest.raises(TrainingError, match="has no checkpoint"):
    train(str(tmp_path / "new"), TINY, config(photo_dir, init_from=str(tmp_path / "run")))


def test_init_from_an_exported_or_bundled_model_takes_its_weights_only(
    photo_dir, tmp_path, monkeypatch):
  source = tmp_path / "source"
  train(str(source), TINY, config(photo_dir, steps=6))
  # Only what an exported model ships: no checkpoints, no training state.
  exported = tmp_path / "bundled" / "tiny-q1"
  exported.mkdir(parents=True)
  for name in ("model.json", "weights.npz"):
    shutil.copy(source / name, exported / name)
  weights = load_model(str(source)).named_weights()
  assert resolve_model_config(str(tmp_path / "new"), {}, init_from=str(exported)) == TINY

  started = str(tmp_path / "from-dir")
  train(started, TINY, config(photo_dir, steps=0, init_from=str(exported)))
  for name, value in load_model(started).named_weights().items():
    np.testing.assert_array_equal(value, weights[name])
  train(started, TINY, config(photo_dir, steps=4, init_from=str(exported)))
  # A fresh optimizer and step counter; the total counts the source's steps too.
  assert checkpoint_value(started, "step/.ATTRIBUTES/VARIABLE_VALUE") == 4
  assert checkpoint_value(started, "optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE") == 4
  metadata = load_model(started).metadata
  assert (metadata["steps"], metadata["total_steps"]) == (4, 10)

  # A bundled model by name, and a level fine-tuned from that run keeps the count.
  monkeypatch.setattr(zoo, "BUNDLED_DIR", str(tmp_path / "bundled"))
  by_name = str(tmp_path / "from-name")
  train(by_name, TINY, config(photo_dir, steps=0, init_from="tiny-q1"))
  for name, value in load_model(by_name).named_weights().items():
    np.testing.assert_array_equal(value, weights[name])
  level = str(tmp_path / "level")
  train(level, TINY, config(photo_dir, steps=6, init_from=started))
  assert load_model(level).metadata["total_steps"] == 12


def test_init_parts_start_another_architecture_from_a_models_transforms(photo_dir, tmp_path):
  source = str(tmp_path / "factorized")
  train(source, TINY, config(photo_dir, steps=4))
  weights = load_model(source).named_weights()
  mean_scale = dataclasses.replace(TINY, architecture="mean-scale-hyperprior",
                                   hyper_synthesis="integer")
  started = str(tmp_path / "mean-scale")
  train(started, mean_scale, config(photo_dir, steps=0, init_from=source,
                                    init_parts=("analysis", "synthesis")))
  model = load_model(started)
  assert model.config == mean_scale
  taken = {name: value for name, value in model.named_weights().items()
           if name.split("/")[0] in ("analysis", "synthesis")}
  assert sorted(taken) == sorted(n for n in weights if n.split("/")[0] != "prior")
  for name, value in taken.items():
    np.testing.assert_array_equal(value, weights[name])
  assert model.metadata["total_steps"] == 4

  with pytest.raises(ModelError, match="this model has no part prior; its parts are analysis"):
    train(str(tmp_path / "a"), mean_scale, config(photo_dir, steps=0, init_from=source,
                                                  init_parts=("analysis", "prior")))
  with pytest.raises(ModelError, match="the saved weights have no part hyper_analysis"):
    train(str(tmp_path / "b"), mean_scale, config(photo_dir, steps=0, init_from=source,
                                                  init_parts=("hyper_analysis",)))
  wider = dataclasses.replace(mean_scale, latent_channels=24)
  with pytest.raises(ModelError, match=r"weight analysis/\d+ has shape .*16.*expected .*24"):
    train(str(tmp_path / "c"), wider, config(photo_dir, steps=0, init_from=source,
                                             init_parts=("analysis",)))
  unexported = str(tmp_path / "unexported")
  (tmp_path / "unexported" / "checkpoints").mkdir(parents=True)
  with pytest.raises(TrainingError, match="has not exported a model yet"):
    train(str(tmp_path / "d"), mean_scale, config(photo_dir, steps=0, init_from=unexported,
                                                  init_parts=("analysis",)))
  for name in "abcd":
    assert not os.path.exists(tmp_path / name / "weights.npz")


def test_init_parts_on_the_command_line_take_the_architecture_from_the_flags(
    photo_dir, tmp_path, trained_model_dir):
  model_dir = str(tmp_path / "hyperprior")
  result = subprocess.run(command_line(
      "train", "--model_dir", model_dir, "--train_glob", str(photo_dir / "*.png"),
      "--architecture=hyperprior", "--num_filters=16", "--latent_channels=16",
      "--kernel_sizes=5,5,5,5", "--strides=2,2,2,2", "--steps=0",
      "--init_from", trained_model_dir, "--init_parts=analysis,synthesis"),
      capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stderr
  assert "its analysis and synthesis only" in result.stderr
  model = load_model(model_dir)
  assert model.config == dataclasses.replace(TINY, architecture="hyperprior")
  source = load_model(trained_model_dir).named_weights()
  for name, value in model.named_weights().items():
    if name.startswith(("analysis/", "synthesis/")):
      np.testing.assert_array_equal(value, source[name])


def _marked_images(sizes):
  """Images whose pixels say which image and where: (index, row, column) in the channels."""
  images = []
  for index, (height, width) in enumerate(sizes):
    rows, columns = np.mgrid[0:height, 0:width]
    images.append(np.stack([np.full_like(rows, index), rows, columns], -1).astype(np.uint8))
  return images


def test_cached_pipeline_cuts_true_crops_of_every_image():
  images = _marked_images([(40, 50), (32, 32), (60, 33), (90, 45), (33, 70)])
  dataset = cached_training_dataset(images, patch_size=32, batch_size=3, seed=4)
  seen = set()
  for batch in dataset.take(4).as_numpy_iterator():
    assert batch.shape == (3, 32, 32, 3) and batch.dtype == np.float32
    for crop in batch.astype(np.uint8):
      index, top, left = crop[0, 0]
      image = images[index]
      # A window of the image it names, anywhere in it: the crops are not all at one place.
      np.testing.assert_array_equal(crop, image[top:top + 32, left:left + 32])
      seen.add((int(index), int(top), int(left)))
  # Each epoch visits every image once: 12 crops cover all 5 images.
  assert {index for index, _, _ in seen} == set(range(5))
  assert len({(top, left) for _, top, left in seen}) > 2


def test_cache_decodes_files_once_and_upscales_small_images(tmp_path):
  Image.fromarray(photo("coffee")[:20, :40]).save(tmp_path / "small.png")
  Image.fromarray(photo("astronaut")[:64, :48]).save(tmp_path / "large.png")
  (tmp_path / "broken.png").write_bytes(b"not a png")
  files = [str(tmp_path / n) for n in ("small.png", "large.png", "broken.png")]
  small, large = decode_for_cache(files, patch_size=32)
  assert small.shape == (32, 64, 3) and small.dtype == np.uint8
  np.testing.assert_array_equal(large, photo("astronaut")[:64, :48])
  assert training.decoded_megabytes(files[:2], 32) == pytest.approx(
      (32 * 64 + 64 * 48) * 3 / 1e6)


def test_a_training_set_over_the_cache_limit_is_streamed(photo_dir, tmp_path, monkeypatch):
  calls = []
  monkeypatch.setattr(training, "training_dataset",
                      lambda *args, **kwargs: calls.append(args) or training_dataset(
                          *args, **kwargs))
  monkeypatch.setattr(training, "decode_for_cache", lambda *args: pytest.fail("cached"))
  train(str(tmp_path / "streamed"), TINY, config(photo_dir, steps=1, cache_mb=0.5))
  assert len(calls) == 1


def test_time_budget_stops_checkpoints_and_exports(photo_dir, tmp_path):
  model_dir = str(tmp_path / "budget")
  train(model_dir, TINY, config(photo_dir, steps=10 ** 6, max_minutes=0.05))
  steps = load_model(model_dir).metadata["steps"]
  assert 0 < steps < 10 ** 6
  assert checkpoint_value(model_dir, "step/.ATTRIBUTES/VARIABLE_VALUE") == steps


def test_seed_fixes_the_initial_weights(photo_dir, tmp_path):
  def initial_weights(name, seed):
    train(str(tmp_path / name), TINY, config(photo_dir, steps=0, seed=seed))
    return load_model(str(tmp_path / name)).named_weights()
  first, again, other = (initial_weights("a", 5), initial_weights("b", 5),
                         initial_weights("c", 6))
  for name, value in first.items():
    np.testing.assert_array_equal(again[name], value)
  assert any(not np.array_equal(other[n], v) for n, v in first.items())


def test_weight_average_follows_its_closed_form():
  variables = [tf.Variable([1.0, -2.0]), tf.Variable(3.0)]
  average = WeightAverage(variables, decay=0.9)
  expected = [v.numpy() for v in variables]
  for n, step in enumerate([0.5, -1.0, 2.0, 0.25] * 5):
    for v in variables:
      v.assign_add(tf.fill(v.shape, step))
    average.update()
    decay = min(0.9, (1 + n) / (10 + n))
    expected = [decay * e + (1 - decay) * v.numpy() for e, v in zip(expected, variables)]
  own = [v.numpy() for v in variables]
  for shadow, value in zip(average.shadows, expected):
    np.testing.assert_allclose(shadow.numpy(), value, rtol=1e-6)
  with average.swapped_in():
    for v, value in zip(variables, expected):
      np.testing.assert_allclose(v.numpy(), value, rtol=1e-6)
  for v, value in zip(variables, own):  # the block gives the variables back
    np.testing.assert_array_equal(v.numpy(), value)
  average.restart()
  assert int(average.updates) == 0
  np.testing.assert_array_equal(average.shadows[0].numpy(), own[0])


def summaries(directory):
  """{(step, tag): value} of the scalar summaries in a log directory."""
  values = {}
  for path in glob.glob(os.path.join(directory, "events*")):
    for event in tf.compat.v1.train.summary_iterator(path):
      for value in event.summary.value:
        values[event.step, value.tag] = float(tf.make_ndarray(value.tensor))
  return values


def test_validation_measures_the_exported_weights_on_whole_images(photo_dir, tmp_path):
  """Every validation_every steps and at the end: hard-quantized bpp, PSNR and loss."""
  validation = tmp_path / "validation"
  validation.mkdir()
  images = [photo(name)[:80, :112] for name in ("chelsea", "rocket")]
  for i, image in enumerate(images):
    Image.fromarray(image).save(validation / f"{i}.png")
  model_dir = str(tmp_path / "run")
  # With an average, which validation measures as the export saves it.
  train(model_dir, TINY, config(photo_dir, steps=4, ema_decay=0.5, validation_every=3,
                                validation_glob=str(validation / "*.png")))
  values = summaries(os.path.join(model_dir, "logs", "validation"))
  assert sorted(values) == [(step, tag) for step in (3, 4)
                            for tag in ("bpp", "loss", "mse", "psnr")]
  exported = load_model(model_dir)
  measured = [[float(v) for v in rate_distortion_loss(
      image, *exported.hard_reconstruction(image), LAMBDA)] for image in images]
  loss, bpp, mean_mse = np.mean(measured, axis=0)
  assert values[4, "bpp"] == pytest.approx(bpp, rel=1e-4)
  assert values[4, "mse"] == pytest.approx(mean_mse, rel=1e-4)
  assert values[4, "loss"] == pytest.approx(loss, rel=1e-4)
  assert values[4, "psnr"] == pytest.approx(10 * np.log10(255 ** 2 / mean_mse), rel=1e-4)
  # Step 3's weights were others: the summaries are not one number written twice.
  assert values[3, "loss"] != values[4, "loss"]


def checkpoint_learning_rate(path):
  reader = tf.train.load_checkpoint(path)
  keys = [k for k in reader.get_variable_to_shape_map()
          if k.startswith("optimizer/") and "learning_rate" in k]
  assert len(keys) == 1, keys
  return float(reader.get_tensor(keys[0]))


def test_learning_rate_decays_for_the_last_fraction_of_the_steps(photo_dir, tmp_path):
  model_dir = str(tmp_path / "decay")
  train(model_dir, TINY, config(photo_dir, steps=10, lr_decay_fraction=0.3,
                                lr_decay_factor=0.1))
  # Steps 0-6 at the learning rate, 7-9 (the last 30%) at a tenth of it.
  values = summaries(os.path.join(model_dir, "logs", "train"))
  assert values[5, "learning_rate"] == pytest.approx(1e-3)
  assert values[10, "learning_rate"] == pytest.approx(1e-4)
  checkpoints = os.path.join(model_dir, "checkpoints")
  assert checkpoint_learning_rate(os.path.join(checkpoints, "ckpt-5")) == pytest.approx(1e-3)
  assert checkpoint_learning_rate(os.path.join(checkpoints, "ckpt-10")) == pytest.approx(1e-4)
  # A resumed run past the decay's start trains at the decayed rate from its first step.
  train(model_dir, TINY, config(photo_dir, steps=12, lr_decay_fraction=0.3,
                                lr_decay_factor=0.1))
  assert checkpoint_learning_rate(os.path.join(checkpoints, "ckpt-12")) == pytest.approx(1e-4)


def test_learning_rate_decay_starts_at_the_time_budgets_last_fraction():
  settings = dict(train_glob="unused", lmbda=LAMBDA, steps=10**8,
                  max_minutes=10, lr_decay_fraction=0.2)
  schedule = training._DecaySchedule(TrainingConfig(**settings), deadline=1000.0)
  # 10 minutes, the last 2 of them (120 s) decayed: from 880 s on.
  assert not schedule.due(step=5, now=879.9)
  assert schedule.due(step=5, now=880.0)
  assert not training._DecaySchedule(TrainingConfig(**settings), deadline=None).due(5, 1e9)
  off = dict(settings, lr_decay_fraction=0.0)
  assert not training._DecaySchedule(TrainingConfig(**off), deadline=1000.0).due(10**8, 1e9)


@pytest.mark.parametrize("fraction, factor", [(1.0, 0.1), (-0.1, 0.1), (0.2, 0.0), (0.2, 2.0)])
def test_learning_rate_decay_refuses_settings_out_of_range(photo_dir, tmp_path, fraction,
                                                          factor):
  with pytest.raises(TrainingError, match="learning-rate decay"):
    train(str(tmp_path / "run"), TINY, config(photo_dir, lr_decay_fraction=fraction,
                                               lr_decay_factor=factor))


@pytest.mark.parametrize("interval", ["checkpoint_every", "log_every", "validation_every"])
def test_step_intervals_below_one_are_refused(photo_dir, tmp_path, interval):
  # 0 once reached the training loop as a modulo by zero, after the model was built.
  with pytest.raises(TrainingError, match=f"--{interval} counts steps"):
    train(str(tmp_path / "run"), TINY, config(photo_dir, **{interval: 0}))
  assert not os.path.exists(tmp_path / "run")


def test_ema_export_saves_the_average_and_resumes_it(photo_dir, tmp_path):
  model_dir = str(tmp_path / "ema")
  train(model_dir, TINY, config(photo_dir, steps=6, ema_decay=0.9))
  exported = load_model(model_dir)
  assert exported.metadata["ema_decay"] == 0.9
  # The checkpoint holds the raw weights and their average; the export is the average.
  model = create_model(TINY)
  average = WeightAverage(model.trainable_variables, 0.9)
  checkpoint = tf.train.Checkpoint(model=model, ema=average)
  checkpoint.restore(tf.train.latest_checkpoint(os.path.join(model_dir, "checkpoints")))
  assert int(average.updates) == 6
  raw = model.named_weights()
  with average.swapped_in():
    averaged = model.named_weights()
  saved = exported.named_weights()
  for name, value in saved.items():
    np.testing.assert_array_equal(value, averaged[name], err_msg=name)
  assert any(not np.array_equal(saved[name], raw[name]) for name in saved)
  # Resuming goes on with the same average rather than starting it again.
  train(model_dir, TINY, config(photo_dir, steps=8, ema_decay=0.9))
  checkpoint.restore(tf.train.latest_checkpoint(os.path.join(model_dir, "checkpoints")))
  assert int(average.updates) == 8
