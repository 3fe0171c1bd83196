"""Training: rate + lambda * distortion, with checkpoints, summaries and resume."""

import contextlib
import dataclasses
import datetime
import json
import os
import shutil
import time

import numpy as np
import tensorflow as tf
from absl import logging

from compressor.coding import zoo
from compressor.coding.store import MODEL_FILE, load_model, read_description, save_model
from compressor.errors import ModelError, TrainingError
from compressor.evaluation.metrics import psnr_from_mse as psnr
from compressor.fileio import write_atomically
from compressor.nn.config import HYPER_SYNTHESIS_NAMES, ModelConfig
from compressor.nn.loss import rate_distortion_loss
from compressor.nn.registry import create_model
from compressor.nn.widening import WIDTHS, widen, widened_config
from compressor.progress import Pace, format_duration
from compressor.training.averaging import WeightAverage
from compressor.training.data import (
  cached_training_dataset,
  decode_for_cache,
  decoded_megabytes,
  list_images,
  load_image_tensor,
  training_dataset,
)
from compressor.training.distribution import STRATEGIES, Distribution
from compressor.training.precision import PRECISIONS, machine_precision, training_precision

__all__ = ["QUANTIZATIONS", "STRATEGIES", "TrainingConfig",
           "resolve_model_config", "train"]

TRAIN_CONFIG_FILE = "train_config.json"
CHECKPOINT_DIR = "checkpoints"
# What the synthesis sees in training: the latents plus uniform noise, as the rate does, or
# (mixed) the latents rounded as the coder rounds them, with a straight-through gradient.
QUANTIZATIONS = ("noise", "mixed")
# Steps between two computations of the coder's rounding offsets for mixed quantization:
# they follow the slowly moving prior and take a tenth of a step to compute.
ROUNDING_REFRESH_STEPS = 100


@dataclasses.dataclass
class TrainingConfig:
  """How to train; unlike ModelConfig, these may change between resumed runs."""

  train_glob: str
  lmbda: float = 0.01
  patch_size: int = 256
  batch_size: int = 8
  steps: int = 100000
  learning_rate: float = 1e-4
  clip_norm: float = 0.0
  checkpoint_every: int = 1000
  log_every: int = 100
  validation_glob: str = ""
  validation_every: int = 1000
  validation_images: int = 8
  seed: int = None
  # What a new run starts from: a training directory's latest checkpoint (weights,
  # optimizer and step), e.g. to fine-tune a model for another lambda; or the
  # weights of an exported model directory or a bundled model's name, with a
  # fresh optimizer and the step counter at 0.
  init_from: str = ""
  # Take only these parts of --init_from's exported weights
  # (e.g. ("analysis", "synthesis")), so that a model of another architecture (a
  # hyperprior model from a factorized one) starts from its transforms; the other
  # parts start fresh, and the architecture comes from the flags, not from init_from.
  init_parts: tuple = ()
  # Wall-clock budget of one invocation in minutes (0: none); the model is
  # exported when it runs out, as at the last step.
  max_minutes: float = 0.0
  # One of STRATEGIES; batch_size is the global batch, split across the replicas.
  strategy: str = "default"
  # Decode the training images once and crop them in memory while they take at
  # most this many MB; 0, or a larger set, streams them from the files.
  cache_mb: float = 4096.0
  # One of PRECISIONS, for training only: exported models compute in float32.
  precision: str = "float32"
  # Decay of an exponential moving average of the weights, which validation
  # measures and the export saves instead of the last step's (0: no average).
  ema_decay: float = 0.0
  # One of QUANTIZATIONS.
  quantization: str = "noise"
  # For the last lr_decay_fraction of the run (of its --steps, or of this
  # invocation's max_minutes, whichever comes first), the learning rate is
  # learning_rate * lr_decay_factor (0: no decay).
  lr_decay_fraction: float = 0.0
  lr_decay_factor: float = 0.1


class _DecaySchedule:
  """When the learning rate drops to learning_rate * lr_decay_factor, for the run's last part."""

  def __init__(self, config, deadline):
    self.config = config
    fraction = config.lr_decay_fraction
    self.started = fraction == 0
    # Counted over resumed runs, as --steps is.
    self.step = int(np.ceil((1 - fraction) * config.steps))
    self.time = None if deadline is None else deadline - fraction * 60.0 * config.max_minutes

  def due(self, step, now):
    return not self.started and (step >= self.step or (self.time is not None and
                                                       now >= self.time))

  def start(self, optimizer):
    """Sets the decayed learning rate, and returns it."""
    rate = self.config.learning_rate * self.config.lr_decay_factor
    optimizer.learning_rate.assign(rate)
    self.started = True
    return rate


def _is_training_dir(directory):
  return os.path.isdir(os.path.join(directory, CHECKPOINT_DIR))


def _exported_model_dir(init_from):
  """The exported model or bundled model's directory that `init_from` names."""
  if _is_training_dir(init_from) and not os.path.exists(os.path.join(init_from, MODEL_FILE)):
    raise TrainingError(f"--init_parts and widening take exported weights; --init_from "
                        f"{init_from} has not exported a model yet")
  try:
    directory = zoo.resolve_model_dir(init_from)
    read_description(directory)
    return directory
  except ModelError:
    raise TrainingError(f"--init_from {init_from} is neither a training directory (no "
                        f"{CHECKPOINT_DIR}/), an exported model directory nor a bundled "
                        "model's name") from None


def _has_config(init_from):
  """Whether init_from says its architecture; else the run fails later, saying what is missing."""
  return (not _is_training_dir(init_from)
          or os.path.exists(os.path.join(init_from, TRAIN_CONFIG_FILE)))


def _widths(config):
  """The config's WIDTHS, e.g. for a log line: "num_filters 128, latent_channels 128"."""
  return ", ".join(f"{name} {getattr(config, name)}" for name in WIDTHS)


def _read_train_config(directory):
  with open(os.path.join(directory, TRAIN_CONFIG_FILE)) as f:
    return json.load(f)


def _steps_before(model_dir, init_from, from_export):
  """Steps that trained the starting weights before this run's step counter began.

  A run started from exported weights counts its own steps from 0; the total
  that the export reports adds the steps of the model it started from.
  """
  resumed = [model_dir] if from_export else [model_dir, init_from]
  for directory in resumed:
    if directory and os.path.exists(os.path.join(directory, TRAIN_CONFIG_FILE)):
      return int(_read_train_config(directory).get("steps_before", 0))
  if not init_from or (_is_training_dir(init_from) and not from_export):
    return 0
  metadata = read_description(_exported_model_dir(init_from)).get("metadata", {})
  return int(metadata.get("total_steps", metadata.get("steps", 0)))


def _saved_model_config(model_dir, init_from):
  """(directory, config) of the run being resumed or started from; config None for a new run."""
  for directory in (model_dir, init_from):
    if directory and (directory == model_dir or _is_training_dir(directory)):
      try:
        return directory, ModelConfig.from_dict(
            _read_train_config(directory)["model_config"])
      except FileNotFoundError:
        if directory != model_dir:
          raise TrainingError(f"--init_from {directory} is not a training directory "
                              f"(no {TRAIN_CONFIG_FILE})") from None
  if not init_from:
    return model_dir, None
  exported = _exported_model_dir(init_from)
  return exported, ModelConfig.from_dict(read_description(exported)["config"])


def _flag_value(name, value):
  """A config value as its `compressor train` flag spells it."""
  if name == "hyper_synthesis":
    return HYPER_SYNTHESIS_NAMES[value]
  if isinstance(value, (list, tuple)):
    return ",".join(map(str, value))
  return str(value)


def resolve_model_config(model_dir, overrides, init_from=None):
  """The saved config of a run being resumed (or of `init_from`), else defaults plus `overrides`.

  Resuming with an architecture field that differs from the saved one is an
  error: the checkpoint could not be restored into a different network. A new
  run from `init_from` may ask for more channels (compressor.nn.widening): it
  starts from its exported weights widened.
  """
  directory, saved = _saved_model_config(model_dir, init_from)
  if saved is None:
    return ModelConfig.from_dict({**ModelConfig().to_dict(), **overrides})
  wider = {name: value for name, value in overrides.items()
           if name in WIDTHS and value != getattr(saved, name)}
  if wider and directory != model_dir:  # A new run from init_from, not a resumed one.
    try:
      saved = widened_config(saved, **wider)
    except ModelError as error:
      raise TrainingError(f"--init_from {init_from}: {error}") from None
  conflicts = [f"--{k}={_flag_value(k, v)} (saved: {_flag_value(k, getattr(saved, k))})"
               for k, v in overrides.items()
               if ModelConfig.from_dict({**saved.to_dict(), k: v}) != saved]
  if conflicts:
    raise TrainingError(
        f"{directory} holds a model with another architecture: {', '.join(conflicts)}; "
        "use a new --model_dir")
  return saved


class _Trainer:
  """One training run; `run` returns the exported model's fingerprint."""

  def __init__(self, model_dir, model_config, config, name):
    # First: MultiWorkerMirroredStrategy sets up the collective ops of the whole program.
    self.distribution = Distribution(config.strategy, model_dir)
    self.strategy = self.distribution.strategy
    self.is_chief = self.distribution.is_chief
    self.replica_batch_size = self.distribution.per_replica_batch_size(config.batch_size)
    self.model_dir = model_dir
    self.config = config
    self.name = name or os.path.basename(os.path.normpath(model_dir))
    self.files = list_images(config.train_glob)
    self.validation_files = (
        list_images(config.validation_glob)[:config.validation_images]
        if config.validation_glob else [])
    if not self.is_chief:
      # Validation only logs and writes summaries, which is the chief's job.
      self.validation_files = []
    if config.precision not in PRECISIONS:
      raise TrainingError(f"unknown precision {config.precision!r}; choose one of "
                          f"{', '.join(PRECISIONS)}")
    self.precision, precision_note, warn = machine_precision(config.precision)
    if precision_note:
      (logging.warning if warn else self._log)(precision_note)
    if not 0 <= config.lr_decay_fraction < 1 or not 0 < config.lr_decay_factor <= 1:
      raise TrainingError(f"the learning-rate decay takes a fraction in [0, 1) and a factor "
                          f"in (0, 1], got {config.lr_decay_fraction:g} and "
                          f"{config.lr_decay_factor:g}")
    for interval in ("checkpoint_every", "log_every", "validation_every"):
      if getattr(config, interval) < 1:
        raise TrainingError(f"--{interval} counts steps and must be at least 1, got "
                            f"{getattr(config, interval)}")
    if config.quantization not in QUANTIZATIONS:
      raise TrainingError(f"unknown quantization {config.quantization!r}; choose one of "
                          f"{', '.join(QUANTIZATIONS)}")
    # Whether a new run starts from exported weights rather than --init_from's checkpoint:
    # an exported model's, or a run's export for some of its parts or to widen it.
    self.from_export = bool(config.init_from) and (
        bool(config.init_parts) or not _is_training_dir(config.init_from)
        or (not _is_training_dir(model_dir) and _has_config(config.init_from)
            and _saved_model_config(None, config.init_from)[1] != model_config))
    self.steps_before = _steps_before(model_dir, config.init_from, self.from_export)
    if config.seed is not None:
      # Python's, NumPy's and TF's: Keras draws its initializers' seeds from Python's.
      tf.keras.utils.set_random_seed(config.seed)
    with self.strategy.scope():
      self.model = create_model(model_config)
      self.optimizer = tf.keras.optimizers.Adam(learning_rate=config.learning_rate)
      # Its slots now, not in the first step, which would be traced twice to create them;
      # a restore also needs them to be complete and checkable.
      self.optimizer.build(self.model.trainable_variables)
      self.average = (WeightAverage(self.model.trainable_variables, config.ema_decay)
                      if config.ema_decay > 0 else None)
    # Not mirrored, so int() reads it; every worker counts the same steps.
    self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
    # Not in the checkpoint: computed from the prior as the loop starts, then refreshed.
    self.rounding_offsets = (
        tf.Variable(tf.zeros([model_config.latent_channels]), trainable=False,
                    name="rounding_offsets")
        if config.quantization == "mixed" else None)
    checkpoint = tf.train.Checkpoint(step=self.step, model=self.model, optimizer=self.optimizer,
                                     **({} if self.average is None else {"ema": self.average}))
    self.checkpoint_dir = os.path.join(model_dir, CHECKPOINT_DIR)
    self.scratch_dir = self.distribution.scratch_dir
    self.manager = tf.train.CheckpointManager(
        checkpoint, self.scratch_dir or self.checkpoint_dir, max_to_keep=3)
    if self.is_chief:
      self.train_writer = tf.summary.create_file_writer(
          os.path.join(model_dir, "logs", "train"))
      self.validation_writer = tf.summary.create_file_writer(
          os.path.join(model_dir, "logs", "validation"))
    else:
      self.train_writer = self.validation_writer = tf.summary.create_noop_writer()

  def _log(self, message, *args):
    """Progress is logged by the chief only, not once per worker."""
    if self.is_chief:
      logging.info(message, *args)

  def _write_train_config(self):
    description = {"model_config": self.model.config.to_dict(),
                   "training": dataclasses.asdict(self.config),
                   # What --precision=auto chose on this machine.
                   "precision_used": self.precision,
                   "steps_before": self.steps_before}
    text = json.dumps(description, indent=2) + "\n"
    write_atomically(os.path.join(self.model_dir, TRAIN_CONFIG_FILE),
                     lambda f: f.write(text.encode()), overwrite=True)

  def _replica_step(self, images):
    """One replica's part of a step, on its share of the global batch."""
    with tf.GradientTape() as tape, training_precision(self.model, self.precision):
      reconstructions, bits = self.model(images, training=True,
                                         rounding_offsets=self.rounding_offsets)
      loss, bpp, mse = rate_distortion_loss(images, reconstructions, bits, self.config.lmbda)
      # Summed over the replicas, its gradients are those of the global batch's mean loss.
      share = loss / self.strategy.num_replicas_in_sync
    variables = self.model.trainable_variables
    gradients = tape.gradient(share, variables)
    # Summed before clipping, so that every replica clips the same global gradients.
    gradients = tf.distribute.get_replica_context().all_reduce(
        tf.distribute.ReduceOp.SUM, gradients)
    if self.config.clip_norm > 0:
      gradients, _ = tf.clip_by_global_norm(gradients, self.config.clip_norm)
    self.optimizer.apply_gradients(zip(gradients, variables), skip_gradients_aggregation=True)
    return tf.stack([loss, bpp, mse])

  @tf.function
  def _train_step(self, batch):
    """(loss, bpp, mse) of the global batch, the same on every worker."""
    results = self.strategy.run(self._replica_step, args=(batch,))
    if self.average is not None:
      self.average.update()
    self.step.assign_add(1)
    return self.strategy.reduce(tf.distribute.ReduceOp.MEAN, results, axis=None)

  @tf.function
  def _rounding_offsets(self):
    # In a graph: eagerly, the search over the prior takes ten times longer.
    return self.model.rounding_offsets()

  def _batches(self):
    """Each replica's share of the global batches; each worker crops its own share of the files."""
    config = self.config
    def dataset(context):
      if len(self.files) < context.num_input_pipelines:
        raise TrainingError(f"{len(self.files)} training images cannot be shared among "
                            f"{context.num_input_pipelines} workers")
      files = self.files[context.input_pipeline_id::context.num_input_pipelines]
      megabytes = decoded_megabytes(files, config.patch_size)
      if megabytes > config.cache_mb:
        if config.cache_mb > 0:
          logging.warning("the %d training images take %.0f MB decoded, over --cache_mb "
                          "%g: decoding them from their files at every step instead, which "
                          "is slower", len(files), megabytes, config.cache_mb)
        return training_dataset(files, config.patch_size, self.replica_batch_size,
                                seed=config.seed)
      started = time.monotonic()
      images = decode_for_cache(files, config.patch_size)
      self._log("decoded %d training images (%.0f MB) into memory in %.1f s", len(images),
                megabytes, time.monotonic() - started)
      return cached_training_dataset(images, config.patch_size, self.replica_batch_size,
                                     seed=config.seed)
    return iter(self.strategy.distribute_datasets_from_function(dataset))

  def _averaged_weights(self):
    """The context in which the model holds the weights it is measured and exported with."""
    return contextlib.nullcontext() if self.average is None else self.average.swapped_in()

  def _validate(self):
    """Hard quantization on whole validation images: the rate the coder will see."""
    measured = []
    with self._averaged_weights():
      for path in self.validation_files:
        image = load_image_tensor(path).numpy()
        measured.append([float(v) for v in rate_distortion_loss(
            image, *self.model.hard_reconstruction(image), self.config.lmbda)])
    loss, bpp, mse = np.mean(measured, axis=0)
    with self.validation_writer.as_default(step=int(self.step)):
      tf.summary.scalar("bpp", bpp)
      tf.summary.scalar("mse", mse)
      tf.summary.scalar("psnr", psnr(mse))
      tf.summary.scalar("loss", loss)
    logging.info("validation at step %d on %d images: bpp %.4f  psnr %.2f dB",
                 int(self.step), len(measured), bpp, psnr(mse))

  def _save_checkpoint(self):
    self.manager.save(checkpoint_number=int(self.step))
    if self.scratch_dir:
      shutil.rmtree(self.scratch_dir)

  def _starting_checkpoint(self):
    """The checkpoint to restore: this run's, else --init_from's; None for a new run.

    An --init_from that is an exported or bundled model gives its weights to the
    model here, and the run starts with a fresh optimizer at step 0.
    """
    latest = tf.train.latest_checkpoint(self.checkpoint_dir)
    init_from = self.config.init_from
    if latest or not init_from:
      return latest
    parts = list(self.config.init_parts) or None
    if self.from_export:
      # Parts come from exported weights, which a training directory has once it exported.
      source = load_model(_exported_model_dir(init_from))
      if parts or source.config == self.model.config:
        self.model.set_named_weights(source.named_weights(), parts=parts)
        how = f", its {' and '.join(parts)} only" if parts else ""
      else:
        widen(source, self.model)  # Any other difference is a ModelError there.
        how = f", widened from {_widths(source.config)} to {_widths(self.model.config)}"
      self._log("starting from the weights of model %r (%d steps)%s", source.model_name,
                self.steps_before, how)
      return None
    source = tf.train.latest_checkpoint(os.path.join(init_from, CHECKPOINT_DIR))
    if source is None:
      raise TrainingError(f"--init_from {init_from} has no checkpoint")
    return source

  def run(self):
    os.makedirs(self.model_dir, exist_ok=True)
    resuming = tf.train.latest_checkpoint(self.checkpoint_dir) is not None
    checkpoint = self._starting_checkpoint()
    if checkpoint:
      # Outside the strategy's scope: a variable the restore creates (the checkpoint's
      # save counter) would need a collective op, which a worker without a checkpoint skips.
      self.manager.checkpoint.restore(checkpoint).assert_existing_objects_matched()
      # The checkpoint holds the old learning rate; this run's flag wins.
      self.optimizer.learning_rate.assign(self.config.learning_rate)
      self._log("resuming from %s at step %d", checkpoint, int(self.step))
    if self.average is not None and (not resuming or int(self.average.updates) == 0):
      # A new run (from --init_from or from scratch) or a checkpoint saved without an
      # average: it starts from the weights the run starts from.
      self.average.restart()
    self.distribution.check_same_step(int(self.step))
    if self.is_chief:
      self._write_train_config()
    config = self.config
    start_step = int(self.step)
    if start_step < config.steps:
      self._log("training on %d images for steps %d to %d", len(self.files), start_step,
                config.steps)
      with self.distribution.signals_request_stop():
        self._loop(start_step)
    return self._export()

  def _interrupted(self):
    # Exported too, so that a stretch stopped early can be measured or staged as it is.
    self._save_checkpoint()
    self._export()
    raise TrainingError(
        f"interrupted at step {int(self.step)}; checkpoint saved and model exported, run "
        "the same command again to resume") from None

  def _loop(self, start_step):
    config = self.config
    batches = self._batches()
    last_saved = start_step
    window = Pace(config.steps, start_step)
    deadline = window.start + 60.0 * config.max_minutes if config.max_minutes > 0 else None
    decay = _DecaySchedule(config, deadline)
    try:
      while int(self.step) < config.steps:
        step = int(self.step)
        now = time.monotonic()
        stop, out_of_time, decay_due = self.distribution.shared_stop(
            deadline is not None and now >= deadline, decay.due(step, now))
        if stop:
          self._interrupted()
        if out_of_time:
          self._log("time budget of %g minutes used up at step %d", config.max_minutes, step)
          break
        if decay_due:
          self._log("learning rate decayed to %g at step %d for the rest of the run",
                    decay.start(self.optimizer), step)
        if self.rounding_offsets is not None and (
            step == start_step or step % ROUNDING_REFRESH_STEPS == 0):
          self.rounding_offsets.assign(self._rounding_offsets())
        loss, bpp, mse = self._train_step(next(batches))
        step = int(self.step)
        if not np.isfinite(float(loss)):
          raise TrainingError(
              f"loss became {float(loss)} at step {step}; stopped without saving. "
              f"The last good checkpoint is step {last_saved}: resume with a lower "
              "--learning_rate or with --clip_norm")
        if self.is_chief and (step % config.log_every == 0 or step == config.steps):
          # The pace of the steps since the last line, which the validation runs in
          # between do not slow.
          now = time.monotonic()
          rate = window.rate(step, now)
          eta = window.eta(step, now, None if deadline is None else deadline - now)
          window = Pace(config.steps, step, now)
          logging.info(
              "step %d/%d  loss %.4f  bpp %.4f  psnr %.2f dB  %.2f steps/s  ETA %s",
              step, config.steps, float(loss), float(bpp), psnr(float(mse)), rate,
              format_duration(eta))
          with self.train_writer.as_default(step=step):
            tf.summary.scalar("loss", loss)
            tf.summary.scalar("bpp", bpp)
            tf.summary.scalar("mse", mse)
            tf.summary.scalar("psnr", psnr(float(mse)))
            tf.summary.scalar("steps_per_second", rate)
            tf.summary.scalar("learning_rate", self.optimizer.learning_rate)
        if self.validation_files and step % config.validation_every == 0:
          self._validate()
        if step % config.checkpoint_every == 0:
          self._save_checkpoint()
          last_saved = step
    except KeyboardInterrupt:
      self._interrupted()
    except tf.errors.UnavailableError:
      # A collective op failed half-way, so nothing is saved.
      raise TrainingError(
          f"lost another worker after step {int(self.step)}; stopped without saving. The "
          f"last checkpoint is step {last_saved}: start every worker again to resume") from None
    if last_saved != int(self.step):
      self._save_checkpoint()
    if self.validation_files and int(self.step) % config.validation_every:
      self._validate()

  def _export(self):
    metadata = {
        "lambda": self.config.lmbda,
        "steps": int(self.step),
        "total_steps": self.steps_before + int(self.step),
        "train_images": len(self.files),
        "patch_size": self.config.patch_size,
        "batch_size": self.config.batch_size,
        "learning_rate": self.config.learning_rate,
        **({"ema_decay": self.config.ema_decay} if self.average is not None else {}),
        "exported": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    if self.scratch_dir:
      # Exported only for its fingerprint, which must equal the chief's.
      with self._averaged_weights():
        model_fingerprint = save_model(self.model, self.scratch_dir, self.name, metadata)
      shutil.rmtree(self.scratch_dir)
      logging.info("worker done at step %d with weights of fingerprint %s; the chief "
                   "exports them", int(self.step), model_fingerprint.hex())
      return model_fingerprint
    with self._averaged_weights():
      model_fingerprint = save_model(self.model, self.model_dir, self.name, metadata)
    logging.info("exported model %r (fingerprint %s) to %s", self.name,
                 model_fingerprint.hex(), self.model_dir)
    return model_fingerprint


def train(model_dir, model_config, config, name=None):
  """Trains (or resumes training) in model_dir, then exports the model there."""
  return _Trainer(model_dir, model_config, config, name).run()
