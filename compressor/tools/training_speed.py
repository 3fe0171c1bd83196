"""Training speed on this machine: `compressor train` against a bare loop of the same model.

Every measurement runs in a fresh process, one after the other, so that each has the
machine to itself and TensorFlow's thread settings can differ between them.
"""

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

from compressor.cli import command_line
from compressor.tools.recipes import flagfile_args

__all__ = ["bare_loop_main", "benchmark", "format_report", "step_flops", "trainer_rate"]

# The trainer's progress line: "step 300/1000  loss ...  2.31 steps/s  ETA ...".
_PROGRESS = re.compile(r"step (\d+)/\d+ .* ([0-9.]+) steps/s")


def step_flops(model_config, patch_size, batch_size):
  """FLOPs of one training step: the forward transforms, and twice that for the gradients."""
  from compressor.tools.speed import transform_flops
  forward = transform_flops(model_config, patch_size, patch_size)
  return 3 * (forward["analysis"] + forward["synthesis"]) * batch_size


def _environment(intra_threads, inter_threads):
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
  env["COMPRESSOR_INTRA_THREADS"], env["COMPRESSOR_INTER_THREADS"] = (
      str(intra_threads), str(inter_threads))
  return env


def _set_threads():
  """TensorFlow's thread pools from the environment (0: TensorFlow's default)."""
  import tensorflow as tf
  tf.config.threading.set_intra_op_parallelism_threads(
      int(os.environ.get("COMPRESSOR_INTRA_THREADS", 0)))
  tf.config.threading.set_inter_op_parallelism_threads(
      int(os.environ.get("COMPRESSOR_INTER_THREADS", 0)))


def bare_loop_main(argv):
  """In a fresh process: the training step alone, on crops already in memory as tensors.

  `argv` is the warm-up steps, the timed steps, then `compressor train` flags;
  prints one JSON line with steps/s.
  """
  from absl import flags

  from compressor.cli import train as train_cli
  warmup, steps = int(argv[0]), int(argv[1])
  flags.FLAGS(["bare_loop", *argv[2:]])
  _set_threads()
  import numpy as np
  import tensorflow as tf

  from compressor.nn.loss import rate_distortion_loss
  from compressor.nn.registry import create_model
  from compressor.training.data import cached_training_dataset, decode_for_cache, list_images
  from compressor.training.precision import machine_precision, training_precision
  model_config, config = train_cli.configs_from_flags()
  images = decode_for_cache(list_images(config.train_glob), config.patch_size)
  crops = cached_training_dataset(images, config.patch_size, config.batch_size, seed=0)
  batches = [tf.constant(b) for b in crops.take(16).as_numpy_iterator()]
  model = create_model(model_config)
  optimizer = tf.keras.optimizers.Adam(learning_rate=config.learning_rate)
  optimizer.build(model.trainable_variables)
  precision = machine_precision(config.precision)[0]

  @tf.function
  def train_step(batch):
    with tf.GradientTape() as tape, training_precision(model, precision):
      reconstructions, bits = model(batch, training=True)
      loss, _, _ = rate_distortion_loss(batch, reconstructions, bits, config.lmbda)
    gradients = tape.gradient(loss, model.trainable_variables)
    if config.clip_norm > 0:
      gradients, _ = tf.clip_by_global_norm(gradients, config.clip_norm)
    optimizer.apply_gradients(zip(gradients, model.trainable_variables))
    return loss

  for i in range(warmup):
    float(train_step(batches[i % len(batches)]))
  start = time.perf_counter()
  for i in range(steps):
    # Read every loss, as the trainer does to stop on a NaN.
    loss = float(train_step(batches[i % len(batches)]))
  seconds = time.perf_counter() - start
  print(json.dumps({"steps_per_second": steps / seconds, "loss": loss,
                    "finite": bool(np.isfinite(loss))}))


def _bare_rate(flag_args, steps, warmup, threads):
  code = "import sys; from compressor.tools.training_speed import bare_loop_main; " \
         "bare_loop_main(sys.argv[1:])"
  with tempfile.TemporaryDirectory() as model_dir:
    result = subprocess.run(
        [sys.executable, "-c", code, str(warmup), str(steps), *flag_args,
         f"--model_dir={model_dir}"], capture_output=True, text=True,
        env=_environment(*threads), check=False)
  if result.returncode:
    raise RuntimeError(f"bare loop failed: {result.stderr.strip().splitlines()[-1:]}")
  return json.loads(result.stdout.strip().splitlines()[-1])["steps_per_second"]


def trainer_rate(flag_args, steps, warmup, threads=(0, 0)):
  """Median steps/s of `compressor train` as users run it, after `warmup` steps.

  The rate of each progress window after the warm-up counts; the first window
  also holds decoding the images and tracing the step.
  """
  log_every = max(10, steps // 5)
  with tempfile.TemporaryDirectory() as model_dir:
    result = subprocess.run(
        [*command_line("train", *flag_args),
         f"--model_dir={model_dir}", f"--steps={warmup + steps}", f"--log_every={log_every}",
         f"--checkpoint_every={warmup + steps}", "--validation_glob="],
        capture_output=True, text=True, env=_environment(*threads), check=False)
  if result.returncode:
    raise RuntimeError(f"compressor train failed: {result.stderr.strip().splitlines()[-1:]}")
  rates = [float(rate) for step, rate in _PROGRESS.findall(result.stderr)
           if int(step) > warmup]
  if not rates:
    raise RuntimeError("compressor train logged no progress after the warm-up")
  return statistics.median(rates)


def _parsed_recipe(flag_args):
  """(ModelConfig, TrainingConfig) of a recipe, parsed as `compressor train` parses it."""
  code = ("import sys, json, dataclasses; from absl import flags; "
          "from compressor.cli import train; flags.FLAGS(['x', *sys.argv[1:]]); "
          "m, c = train.configs_from_flags(); "
          "print(json.dumps([m.to_dict(), dataclasses.asdict(c)]))")
  with tempfile.TemporaryDirectory() as model_dir:
    result = subprocess.run([sys.executable, "-c", code, *flag_args,
                             f"--model_dir={model_dir}"], capture_output=True, text=True,
                            env=_environment(0, 0), check=True)
  from compressor.nn.config import ModelConfig
  model_config, config = json.loads(result.stdout.strip().splitlines()[-1])
  return ModelConfig.from_dict(model_config), config


def benchmark(recipes, train_glob, steps=100, warmup=20, precisions=("float32",),
              thread_settings=((0, 0),), matmul_gflops=None):
  """Steps/s of the bare loop and of `compressor train` for every recipe and precision.

  `recipes` are (name, flagfiles) pairs (compressor.tools.recipes);
  `thread_settings` (intra, inter) pairs, tried on the bare loop of the first
  recipe (0 is TensorFlow's default). Returns a JSON-able report.
  """
  rows = []
  for name, flagfiles in recipes:
    for precision in precisions:
      flag_args = [*flagfile_args(flagfiles), f"--train_glob={train_glob}",
                   f"--precision={precision}"]
      model_config, config = _parsed_recipe(flag_args)
      flops = step_flops(model_config, config["patch_size"], config["batch_size"])
      bare = _bare_rate(flag_args, steps, warmup, thread_settings[0])
      trainer = trainer_rate(flag_args, steps, warmup, thread_settings[0])
      rows.append({"recipe": name, "architecture": model_config.architecture,
                   "precision": precision, "bare_steps_per_second": bare,
                   "trainer_steps_per_second": trainer, "trainer_over_bare": trainer / bare,
                   "gflop_per_step": flops / 1e9, "bare_gflops": bare * flops / 1e9,
                   "trainer_gflops": trainer * flops / 1e9})
  threads = []
  if len(thread_settings) > 1:
    first = [*flagfile_args(recipes[0][1]), f"--train_glob={train_glob}"]
    for setting in thread_settings:
      threads.append({"intra": setting[0], "inter": setting[1],
                      "bare_steps_per_second": _bare_rate(first, steps, warmup, setting)})
  return {"steps": steps, "warmup": warmup, "matmul_gflops": matmul_gflops,
          "cpu_count": os.cpu_count(), "rows": rows, "threads": threads}


def format_report(report):
  lines = [f"{'recipe':22} {'precision':9} {'bare steps/s':>12} {'train steps/s':>13} "
           f"{'ratio':>6} {'GFLOP/step':>10} {'train GFLOP/s':>13}"]
  for r in report["rows"]:
    lines.append(f"{r['recipe']:22} {r['precision']:9} {r['bare_steps_per_second']:12.2f} "
                 f"{r['trainer_steps_per_second']:13.2f} {r['trainer_over_bare']:6.2f} "
                 f"{r['gflop_per_step']:10.1f} {r['trainer_gflops']:13.1f}")
  if report["matmul_gflops"]:
    lines.append(f"float32 matmul rate: {report['matmul_gflops']:.0f} GFLOP/s")
  for t in report["threads"]:
    lines.append(f"threads intra={t['intra']} inter={t['inter']} (0: default): bare loop "
                 f"{t['bare_steps_per_second']:.2f} steps/s")
  return "\n".join(lines)
