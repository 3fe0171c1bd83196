"""Do a hyperprior model's scale indexes come out the same under another TensorFlow setup?

The encoder derives every latent's scale index from the side information, and
the decoder derives it again; if the two differ anywhere, the range decoder
reads the rest of the payload with the wrong probabilities. This tool encodes
files here, then decodes them in fresh processes under other configurations
(oneDNN on or off, one thread or TensorFlow's default, graphs or eager
execution), and counts the files whose indexes or decoded latents differ.

  python -m compressor.tools.determinism --model MODEL_DIR --images 'photos/*.png'
"""

import dataclasses
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

__all__ = ["CONFIGURATIONS", "Mismatches", "compare", "entropy_indexes"]

# Name -> (environment variables, threads (0: TensorFlow's default), eager).
CONFIGURATIONS = {
    "onednn-off-1-thread": ({"TF_ENABLE_ONEDNN_OPTS": "0"}, 1, False),
    "onednn-on-eager": ({"TF_ENABLE_ONEDNN_OPTS": "1"}, 0, True),
}


def entropy_indexes(model, data):
  """(scale indexes, decoded latents) of a compressed file, as its decoder derives them."""
  import tensorflow as tf

  from compressor.coding import container
  header, payloads = container.unpack(data)
  shapes = [tuple(s) for s in header.coded_shapes]
  coded, _ = header.split_payloads(payloads)
  side = model._range_decode_side(coded[0], shapes[0])
  parameters = model._entropy_parameters(side, tf.constant(shapes[1][:2]))
  indexes, _ = model._conditionals(parameters, training=False)
  latents = model._range_decode_latents(coded[1], shapes[1], parameters)
  return indexes.numpy().astype(np.int32), latents.numpy()


@dataclasses.dataclass
class Mismatches:
  """Of `files` files decoded under `configuration`: how many differ, and where."""

  configuration: str
  files: int
  index_files: int  # files with at least one scale index that differs
  indexes: int  # scale indexes that differ, over all files (all of a file that failed)
  # Files decoded to other integers, or not at all: a desynchronized range decoder.
  desynchronized_files: int
  # Files whose decoded latents are not bit-identical, desynchronized or not: a mean
  # that differs in its last bits shifts its latent as much.
  inexact_files: int


def _decode_here(model_dir, paths, output):
  """In this process (set up by main): every file's indexes and latents, into an .npz."""
  from compressor.coding.store import load_model
  from compressor.errors import CompressorError
  model = load_model(model_dir)
  arrays = {}
  for i, path in enumerate(paths):
    with open(path, "rb") as f:
      try:
        arrays[f"indexes/{i}"], arrays[f"latents/{i}"] = entropy_indexes(model, f.read())
      except CompressorError as e:  # what a desynchronized range decoder ends in
        arrays[f"failed/{i}"] = np.array(str(e))
  np.savez(output, **arrays)


def _read(path):
  with open(path, "rb") as f:
    return f.read()


def compare(model, model_dir, files, configuration):
  """Mismatches of `files` (compressed by `model`, loaded here) decoded under `configuration`."""
  environment, threads, eager = CONFIGURATIONS[configuration]
  here = [entropy_indexes(model, _read(path)) for path in files]
  with tempfile.TemporaryDirectory() as directory:
    output = os.path.join(directory, "decoded.npz")
    command = [sys.executable, "-m", "compressor.tools.determinism", "--decode",
               json.dumps({"model_dir": model_dir, "files": list(files), "output": output,
                           "threads": threads, "eager": eager})]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **environment)
    subprocess.run(command, check=True, env=env, capture_output=True)
    with np.load(output) as there:
      there = dict(there)
  index_files = indexes = desynchronized = inexact = 0
  for i, (index_map, latents) in enumerate(here):
    if f"failed/{i}" in there:
      index_files, indexes = index_files + 1, indexes + index_map.size
      desynchronized, inexact = desynchronized + 1, inexact + 1
      continue
    differ = int(np.sum(there[f"indexes/{i}"] != index_map))
    index_files += differ > 0
    indexes += differ
    # Another integer is at least 1 away; a mean's rounding error is far less.
    desynchronized += bool(np.max(np.abs(there[f"latents/{i}"] - latents), initial=0) > 0.5)
    inexact += not np.array_equal(there[f"latents/{i}"], latents)
  return Mismatches(configuration, len(files), index_files, indexes, desynchronized, inexact)


def _main_decode(settings):
  import tensorflow as tf
  if settings["threads"]:
    tf.config.threading.set_intra_op_parallelism_threads(settings["threads"])
    tf.config.threading.set_inter_op_parallelism_threads(settings["threads"])
  tf.config.run_functions_eagerly(settings["eager"])
  _decode_here(settings["model_dir"], settings["files"], settings["output"])


def _main(argv):
  from absl import flags

  from compressor.coding.codec import compress_image
  from compressor.coding.images import DecodedImage, read_image, split_alpha
  from compressor.coding.store import load_model
  from compressor.training.data import list_images
  flags.DEFINE_string("model", None, "A hyperprior model directory.")
  flags.DEFINE_string("images", None, "Glob of the images to encode.")
  flags.mark_flags_as_required(["model", "images"])
  flags.FLAGS(argv)
  model = load_model(flags.FLAGS.model)
  with tempfile.TemporaryDirectory() as directory:
    files = []
    for i, path in enumerate(list_images(flags.FLAGS.images)):
      rgb = split_alpha(read_image(path))[0]
      files.append(os.path.join(directory, f"{i}.cmpr"))
      with open(files[-1], "wb") as f:
        f.write(compress_image(model, DecodedImage(rgb, "RGB")))
    for configuration in CONFIGURATIONS:
      result = compare(model, flags.FLAGS.model, files, configuration)
      print(f"{configuration}: of {result.files} files, {result.index_files} with another "
            f"index ({result.indexes} indexes), {result.desynchronized_files} "
            f"desynchronized, {result.inexact_files} not bit-identical")


if __name__ == "__main__":
  if len(sys.argv) == 3 and sys.argv[1] == "--decode":
    _main_decode(json.loads(sys.argv[2]))
  else:
    _main(sys.argv)
