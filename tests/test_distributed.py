"""Distributed training: two workers stay in step, the chief alone saves, and runs resume."""

import json
import os
import re
import signal
import socket
import subprocess
import time

import numpy as np
import pytest
from PIL import Image

from compressor.cli import command_line
from compressor.coding.store import load_model
from compressor.errors import TrainingError
from compressor.nn.config import ModelConfig
from compressor.training.distribution import per_replica_batch_size
from compressor.training.trainer import TrainingConfig, train
from conftest import random_image

SMALL = ModelConfig(num_filters=8, latent_channels=8, kernel_sizes=(5, 5), strides=(2, 2))
# Two cold TensorFlow processes on a busy machine: start-up and tracing take most of it
# (on a loaded CI machine the first step alone once took 200 s).
WORKERS_TIMEOUT = 480


@pytest.fixture
def image_dir(tmp_path):
  """Images of the patch size: the crops, drawn in a parallel map and so in no fixed
  order, are then the whole image, and a seeded run is reproducible."""
  directory = tmp_path / "images"
  directory.mkdir()
  for seed in range(4):
    Image.fromarray(random_image(32, 32, seed=seed)).save(directory / f"{seed}.png")
  return directory


def free_ports(count):
  sockets = [socket.socket() for _ in range(count)]
  for s in sockets:
    s.bind(("localhost", 0))
  ports = [s.getsockname()[1] for s in sockets]
  for s in sockets:
    s.close()
  return ports


def pause_after(log, line, process, seconds):
  """Stops `process` for `seconds` once `line` is in the file `log` (at once if it never is)."""
  deadline = time.monotonic() + WORKERS_TIMEOUT
  while line not in log.read_text() and time.monotonic() < deadline:
    time.sleep(0.2)
  process.send_signal(signal.SIGSTOP)
  time.sleep(seconds)
  process.send_signal(signal.SIGCONT)


def run_workers(tmp_path, image_dir, steps, pause=None):
  """Runs `compressor train` as both workers of a localhost cluster; returns their logs.

  pause: (chief's log line, seconds): the other worker is stopped that long after the line.
  """
  cluster = {"worker": [f"localhost:{port}" for port in free_ports(2)]}
  command = command_line(
      "train", "--strategy=multi_worker", "--model_dir", tmp_path / "run",
      "--train_glob", image_dir / "*.png", "--num_filters=8", "--latent_channels=8",
      "--kernel_sizes=5,5", "--strides=2,2", "--patchsize=32", "--batchsize=4",
      f"--steps={steps}", "--log_every=1", "--checkpoint_every=2", "--learning_rate=1e-3",
      "--clip_norm=1", "--seed=1")
  processes, logs = [], []
  try:
    for index in range(2):
      task = {"cluster": cluster, "task": {"type": "worker", "index": index}}
      logs.append(tmp_path / f"worker{index}-steps{steps}.log")
      # Files, not pipes: a worker blocked on a full pipe would stall the other one too.
      with open(logs[-1], "w") as log:
        processes.append(subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=log,
            env=dict(os.environ, TF_CONFIG=json.dumps(task))))
    if pause:
      line, seconds = pause
      pause_after(logs[0], line, processes[1], seconds)
    deadline = time.monotonic() + WORKERS_TIMEOUT
    try:
      for process in processes:
        process.wait(timeout=max(deadline - time.monotonic(), 1))
    except subprocess.TimeoutExpired:
      pass  # killed below; the assertion shows both logs
  finally:
    for process in processes:
      if process.poll() is None:
        process.kill()
        process.wait()
  texts = [log.read_text() for log in logs]
  # Both logs: when one worker fails, the other's often says only that it lost a peer.
  assert [process.returncode for process in processes] == [0, 0], "\n\n".join(
      f"worker {index} (exit {process.returncode}):\n{text[-3000:]}"
      for index, (process, text) in enumerate(zip(processes, texts)))
  return texts


def fingerprints(chief_log, worker_log):
  """The chief's exported model's fingerprint, and the one the other worker computed."""
  chief = re.search(r"exported model 'run' \(fingerprint ([0-9a-f]{32})\)", chief_log)
  worker = re.search(r"with weights of fingerprint ([0-9a-f]{32})", worker_log)
  assert chief and worker, (chief_log[-2000:], worker_log[-2000:])
  return chief.group(1), worker.group(1)


def test_two_workers_train_in_step_and_resume(tmp_path, image_dir):
  model_dir = tmp_path / "run"
  chief_log, worker_log = run_workers(tmp_path, image_dir, steps=3)
  # A fingerprint hashes every weight's bytes: equal fingerprints, identical weights.
  chief, worker = fingerprints(chief_log, worker_log)
  assert chief == worker == load_model(str(model_dir)).fingerprint.hex()
  assert "step 3/3" in chief_log and "step 3/3" not in worker_log
  # The chief alone writes; the other worker's scratch directory is gone.
  assert sorted(os.listdir(model_dir)) == [
      "checkpoints", "logs", "model.json", "train_config.json", "weights.npz"]
  assert os.path.exists(model_dir / "checkpoints" / "ckpt-3.index")

  # The other worker goes silent for longer than TensorFlow's default heartbeat timeout (10 s),
  # as on a busy machine: the run must go on.
  chief_log, worker_log = run_workers(tmp_path, image_dir, steps=5, pause=("step 4/5", 15))
  assert re.search(r"resuming from \S+ckpt-3 at step 3", chief_log)
  assert "training on 4 images for steps 3 to 5" in chief_log
  chief, worker = fingerprints(chief_log, worker_log)
  assert chief == worker == load_model(str(model_dir)).fingerprint.hex()
  assert load_model(str(model_dir)).metadata["steps"] == 5
  assert os.path.exists(model_dir / "checkpoints" / "ckpt-5.index")
  assert not [name for name in os.listdir(model_dir) if name.endswith(".tmp")]


def test_mirrored_gives_the_same_result_as_default(tmp_path, image_dir):
  def trained_weights(name, strategy):
    config = TrainingConfig(train_glob=str(image_dir / "*.png"), patch_size=32, batch_size=4,
                            steps=3, learning_rate=1e-3, clip_norm=1.0, seed=7,
                            strategy=strategy)
    train(str(tmp_path / name), SMALL, config)
    return load_model(str(tmp_path / name)).named_weights()
  default, mirrored = trained_weights("default", "default"), trained_weights("m", "mirrored")
  for name, value in default.items():
    np.testing.assert_allclose(mirrored[name], value, rtol=1e-5, atol=1e-6, err_msg=name)


def test_batch_size_must_split_evenly_across_replicas():
  assert per_replica_batch_size(8, 2) == 4
  with pytest.raises(TrainingError,
                     match=r"^--batchsize 6 cannot be split evenly across 4 replicas; "
                           r"use a multiple of 4$"):
    per_replica_batch_size(6, 4)


def test_multi_worker_needs_tf_config(tmp_path, image_dir, monkeypatch):
  monkeypatch.delenv("TF_CONFIG", raising=False)
  config = TrainingConfig(train_glob=str(image_dir / "*.png"), strategy="multi_worker")
  with pytest.raises(TrainingError, match="needs the TF_CONFIG environment variable"):
    train(str(tmp_path / "run"), SMALL, config)
