"""`compressor train`: trains a model in --model_dir, resuming if it holds a checkpoint."""

import signal

from absl import app, flags, logging

from compressor.cli.common import no_positional, user_errors
from compressor.nn.config import HYPER_SYNTHESIS_NAMES, NORMALIZATIONS, ModelConfig
from compressor.nn.registry import MODEL_CLASSES
from compressor.training.precision import PRECISIONS
from compressor.training.trainer import (
  QUANTIZATIONS,
  STRATEGIES,
  TrainingConfig,
  resolve_model_config,
  train,
)

_DEFAULTS = ModelConfig()
_MODEL_FLAGS = ("architecture", "num_filters", "latent_channels", "kernel_sizes",
                "strides", "normalization", "hyper_filters", "hyper_synthesis")

flags.DEFINE_string("model_dir", None, "Directory for checkpoints, logs and the exported model.")
flags.DEFINE_string("train_glob", None, "Glob of training images, e.g. 'photos/**/*.jpg'.")
flags.DEFINE_string("name", None,
                    "Model name written into bitstreams (default: the directory name).")
flags.DEFINE_enum("architecture", _DEFAULTS.architecture, sorted(MODEL_CLASSES), "Model class.")
flags.DEFINE_integer("num_filters", _DEFAULTS.num_filters, "Filters of the hidden layers.")
flags.DEFINE_integer("latent_channels", _DEFAULTS.latent_channels, "Channels of the latents.")
flags.DEFINE_list("kernel_sizes", list(map(str, _DEFAULTS.kernel_sizes)),
                  "Kernel size of each analysis stage.")
flags.DEFINE_list("strides", list(map(str, _DEFAULTS.strides)), "Stride of each analysis stage.")
flags.DEFINE_enum("normalization", _DEFAULTS.normalization, list(NORMALIZATIONS),
                  "Nonlinearity between the convolutions.")
flags.DEFINE_integer("hyper_filters", _DEFAULTS.hyper_filters,
                     "Filters of the hyperprior transforms (default: --num_filters; "
                     "the factorized architecture has none).")
flags.DEFINE_enum("hyper_synthesis", HYPER_SYNTHESIS_NAMES[None],
                  list(HYPER_SYNTHESIS_NAMES.values()),
                  "Arithmetic of the hyperprior models' hyper-synthesis: integer makes the "
                  "scale indexes the same on every machine, so files decode anywhere.")
flags.DEFINE_float("lambda", 0.01,
                   "Rate-distortion trade-off: loss = bpp + lambda * MSE (0-255 scale).")
flags.DEFINE_integer("patchsize", 256, "Side of the random training crops.")
flags.DEFINE_integer("batchsize", 8, "Crops per training step.")
flags.DEFINE_integer("steps", 100000, "Train until this step (counted over resumed runs).")
flags.DEFINE_float("learning_rate", 1e-4, "Adam learning rate.")
flags.DEFINE_float("clip_norm", 0.0, "Clip gradients to this global norm (0: off).")
flags.DEFINE_float("ema_decay", 0.0, "Decay of an exponential moving average of the weights, "
                   "which validation measures and the export saves (0: off; e.g. 0.999).",
                   lower_bound=0.0, upper_bound=0.99999)
flags.DEFINE_float("lr_decay_fraction", 0.0, "For this last fraction of the run (of --steps, "
                   "or of --max_minutes, whichever ends it first) train at the learning rate "
                   "times --lr_decay_factor (0: off; e.g. 0.15).", lower_bound=0.0,
                   upper_bound=0.99)
flags.DEFINE_float("lr_decay_factor", 0.1, "Factor of the learning rate in the decay that "
                   "--lr_decay_fraction sets.", lower_bound=1e-6, upper_bound=1.0)
flags.DEFINE_integer("checkpoint_every", 1000, "Steps between checkpoints.")
flags.DEFINE_integer("log_every", 100, "Steps between progress lines and summaries.")
flags.DEFINE_string("validation_glob", "", "Glob of validation images (hard quantization).")
flags.DEFINE_integer("validation_every", 1000, "Steps between validations.")
flags.DEFINE_integer("validation_images", 8, "Validate on at most this many images.")
flags.DEFINE_integer("seed", None, "Seed for data order and initialization.")
flags.DEFINE_float("max_minutes", 0.0, "Stop and export after this many minutes of training "
                   "(0: no limit); run again to go on.")
flags.DEFINE_string("init_from", "", "Start a new --model_dir from the latest checkpoint of "
                    "this training directory (weights, optimizer and step; e.g. to fine-tune "
                    "for another --lambda), or from the weights of an exported model "
                    "directory or a bundled model's name (fresh optimizer, step 0).")
flags.DEFINE_list("init_parts", [], "With --init_from: take only these parts of its exported "
                  "weights (e.g. analysis,synthesis), so that a model "
                  "of another architecture, set by the flags, starts from its transforms; the "
                  "other parts start fresh.")
flags.DEFINE_enum("strategy", "default", list(STRATEGIES),
                  "tf.distribute strategy: one device, every local device (mirrored), or "
                  "the machines in $TF_CONFIG (multi_worker). --batchsize is split "
                  "across them.")
flags.DEFINE_float("cache_mb", 4096, "Decode the training images once and crop them in "
                   "memory if they take at most this many MB decoded (0: decode every crop "
                   "from its file).")
flags.DEFINE_enum("precision", "float32", list(PRECISIONS),
                  "Compute of training steps: bfloat16 runs the transforms' hidden "
                  "convolutions in bfloat16, several times faster on CPUs with AMX or "
                  "AVX512_BF16 and ten or more times slower on others, which emulate it "
                  "(normalizations, latents, pixels, entropy models and loss stay "
                  "float32); auto takes bfloat16 on a CPU with either and no GPU, else "
                  "float32. Validation and exported models are float32 either way.")
flags.DEFINE_enum("quantization", "noise", list(QUANTIZATIONS),
                  "What the synthesis sees in training: the latents plus uniform noise, or "
                  "(mixed) the latents rounded as the coder rounds them, with a "
                  "straight-through gradient; the rate comes from the noisy latents either "
                  "way.")
flags.mark_flags_as_required(["model_dir", "train_glob"])
FLAGS = flags.FLAGS


def _explicit_model_flags():
  """Only flags the user set: a resumed run keeps the saved architecture otherwise."""
  overrides = {}
  for name in _MODEL_FLAGS:
    if FLAGS[name].present:
      value = FLAGS[name].value
      if name in ("kernel_sizes", "strides"):
        try:
          value = [int(v) for v in value]
        except ValueError:
          raise app.UsageError(f"--{name} takes integers, got {','.join(value)}") from None
      if name == "hyper_synthesis":
        value = {v: k for k, v in HYPER_SYNTHESIS_NAMES.items()}[value]
      overrides[name] = value
  return overrides


def configs_from_flags():
  """(ModelConfig, TrainingConfig) that the parsed flags ask for."""
  # With --init_parts the architecture is the flags', not --init_from's.
  model_config = resolve_model_config(FLAGS.model_dir, _explicit_model_flags(),
                                      "" if FLAGS.init_parts else FLAGS.init_from)
  config = TrainingConfig(
      train_glob=FLAGS.train_glob, lmbda=FLAGS["lambda"].value, patch_size=FLAGS.patchsize,
      batch_size=FLAGS.batchsize, steps=FLAGS.steps, learning_rate=FLAGS.learning_rate,
      clip_norm=FLAGS.clip_norm, checkpoint_every=FLAGS.checkpoint_every,
      log_every=FLAGS.log_every, validation_glob=FLAGS.validation_glob,
      validation_every=FLAGS.validation_every, validation_images=FLAGS.validation_images,
      seed=FLAGS.seed, init_from=FLAGS.init_from, init_parts=tuple(FLAGS.init_parts),
      max_minutes=FLAGS.max_minutes,
      strategy=FLAGS.strategy, cache_mb=FLAGS.cache_mb, precision=FLAGS.precision,
      ema_decay=FLAGS.ema_decay, quantization=FLAGS.quantization,
      lr_decay_fraction=FLAGS.lr_decay_fraction, lr_decay_factor=FLAGS.lr_decay_factor)
  return model_config, config


@user_errors
def main(argv):
  no_positional(argv)
  logging.set_verbosity(logging.INFO)
  # `kill` stops training as Ctrl-C does: a checkpoint is written first.
  signal.signal(signal.SIGTERM, signal.default_int_handler)
  model_config, config = configs_from_flags()
  train(FLAGS.model_dir, model_config, config, name=FLAGS.name)


def run(argv):
  app.run(main, argv=argv)
