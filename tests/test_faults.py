"""Processes killed or run side by side: nothing half-written is ever used or lost."""

import os
import random
import signal
import subprocess

import numpy as np
import tensorflow as tf
from PIL import Image

from compressor.cli import command_line
from compressor.coding import container
from compressor.coding.codec import decompress_bytes
from compressor.coding.store import load_model
from conftest import photo

CHECKPOINT_EVERY = 3


def env():
  return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")


def latest_step(model_dir):
  path = tf.train.latest_checkpoint(os.path.join(model_dir, "checkpoints"))
  if path is None:
    return 0
  reader = tf.train.load_checkpoint(path)  # a half-written checkpoint would fail here
  return int(reader.get_tensor("step/.ATTRIBUTES/VARIABLE_VALUE"))


def test_sigkill_at_random_points_loses_at_most_one_interval(photo_dir, tmp_path):
  model_dir = tmp_path / "model"
  command = command_line("train", "--model_dir", model_dir, "--train_glob", photo_dir / "*.png",
                "--num_filters=8", "--latent_channels=8", "--kernel_sizes=5,5",
                "--strides=2,2", "--patchsize=32", "--batchsize=2", "--log_every=1",
                f"--checkpoint_every={CHECKPOINT_EVERY}", "--learning_rate=1e-3",
                "--steps=100000")
  rng = random.Random(7)
  saved = 0
  # Kill right after a checkpoint step (mid-save) and at random other steps.
  for offset in (CHECKPOINT_EVERY, rng.randint(2, 9), rng.randint(2, 9)):
    target = saved + offset
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env())
    resumed_at = None
    for line in process.stderr:
      if "resuming from" in line:
        resumed_at = int(line.rsplit("at step ", 1)[1])
      if f"step {target}/" in line:
        process.send_signal(signal.SIGKILL)
        break
    process.wait(timeout=120)
    assert process.returncode == -signal.SIGKILL
    assert resumed_at == (saved or None)
    previous, saved = saved, latest_step(model_dir)
    assert target - CHECKPOINT_EVERY <= saved <= target + CHECKPOINT_EVERY
    assert saved >= previous
  final = command[:-1] + [f"--steps={saved + 2}"]
  result = subprocess.run(final, capture_output=True, text=True, env=env(), timeout=300)
  assert result.returncode == 0, result.stderr
  assert f"at step {saved}" in result.stderr
  assert load_model(str(model_dir)).metadata["steps"] == saved + 2


def test_parallel_compress_processes_do_not_interfere(trained_model_dir, tmp_path):
  names = ["astronaut", "coffee", "chelsea"]
  for name in names:
    Image.fromarray(photo(name)[:96, :128]).save(tmp_path / f"{name}.png")
  jobs = [command_line("compress", "--model", trained_model_dir, tmp_path / f"{n}.png")
          for n in names]
  # Two processes race for the same output name.
  jobs += [command_line("compress", "--model", trained_model_dir, tmp_path / "astronaut.png",
               tmp_path / "same.cmpr") for _ in range(2)]
  processes = [subprocess.Popen(j, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=env()) for j in jobs]
  results = [(p.wait(timeout=300), p.stderr.read()) for p in processes]
  assert [code for code, _ in results[:3]] == [0, 0, 0], results
  race = sorted(code for code, _ in results[3:])
  assert race == [0, 1], results
  assert "exists; pass --overwrite" in [err for code, err in results[3:] if code][0]
  model = load_model(trained_model_dir)
  for name, output in [(n, f"{n}.png.cmpr") for n in names] + [("astronaut", "same.cmpr")]:
    data = (tmp_path / output).read_bytes()
    header, _ = container.unpack(data)  # complete, CRC intact
    assert (header.width, header.height) == (128, 96)
    np.testing.assert_array_equal(decompress_bytes(data, model).pixels,
                                  model.reconstruct(photo(name)[:96, :128].copy()))
  leftovers = [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]
  assert not leftovers
