"""Training precision: hidden transform convolutions in bfloat16, the rest in float32."""

import contextlib

import tensorflow as tf
import tensorflow_compression as tfc

__all__ = ["PRECISIONS", "bfloat16_instructions", "machine_precision", "resolve_precision",
           "training_precision"]

# What a training step computes in; "auto" is bfloat16 where the CPU computes it natively,
# else float32.
_COMPUTED = ("float32", "bfloat16")
PRECISIONS = (*_COMPUTED, "auto")

# The x86 instruction sets (as /proc/cpuinfo names them) that compute bfloat16 natively;
# elsewhere TensorFlow emulates it, ten or more times slower than float32.
BFLOAT16_INSTRUCTIONS = ("avx512_bf16", "amx_bf16")

_BFLOAT16 = tf.keras.mixed_precision.Policy("mixed_bfloat16")


def _hidden_convolutions(model):
  """The convolutions of the analysis and synthesis transforms that a normalization follows."""
  return [layer for transform in (model.analysis, model.synthesis) for layer in transform.layers
          # A normalization is a layer; SignalConv2D makes "no activation" the identity.
          if isinstance(layer, tfc.SignalConv2D)
          and isinstance(layer.activation, tf.keras.layers.Layer)]


def bfloat16_instructions(cpuinfo="/proc/cpuinfo"):
  """The BFLOAT16_INSTRUCTIONS this CPU has, or None where its flags cannot be read."""
  try:
    with open(cpuinfo) as f:
      text = f.read()
  except OSError:  # Not Linux, or no /proc.
    return None
  flags = set()
  for line in text.splitlines():
    key, _, value = line.partition(":")
    if key.strip() == "flags":
      flags.update(value.split())
  return [name for name in BFLOAT16_INSTRUCTIONS if name in flags]


def resolve_precision(precision, instructions, has_gpu):
  """(float32 or bfloat16, a line for the log or None, whether that line is a warning).

  `instructions` is what bfloat16_instructions returned. "auto" takes bfloat16
  only on a CPU with native bfloat16 and no GPU (which trains in float32 here);
  an explicit bfloat16 where it is emulated trains as asked, with a warning.
  """
  if precision not in PRECISIONS:
    raise ValueError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
  names = ", ".join(n.upper() for n in BFLOAT16_INSTRUCTIONS)
  if precision == "auto":
    if has_gpu:
      return "float32", "precision auto: float32 (a GPU is visible)", False
    if instructions:
      return "bfloat16", f"precision auto: bfloat16 (this CPU has {', '.join(instructions)})", False
    known = "has none of" if instructions is not None else "cannot say whether it has"
    return "float32", f"precision auto: float32 (this CPU {known} {names})", False
  if precision == "bfloat16" and not has_gpu and instructions == []:
    return precision, (f"--precision=bfloat16 on a CPU without {names}: TensorFlow emulates "
                       "bfloat16 there, ten or more times slower than float32; --precision=auto "
                       "chooses for the machine"), True
  return precision, None, False


def machine_precision(precision):
  """resolve_precision for this machine's CPU and GPUs."""
  return resolve_precision(precision, bfloat16_instructions(),
                           bool(tf.config.list_physical_devices("GPU")))


@contextlib.contextmanager
def training_precision(model, precision):
  """Within it, a model's calls (and the graphs traced then) compute in `precision`.

  "bfloat16" runs the convolutions that carry almost all of the FLOPs in
  bfloat16, which CPUs with AMX or AVX512_BF16 compute several times faster:
  those of the analysis and synthesis transforms that a normalization follows.
  Their variables stay float32 (cast at each use), and so does everything the
  rate and distortion are measured on: the normalizations (GDN, whose inputs
  Keras casts back to float32), the last convolution of each transform, which
  computes the latents and the pixels, the hyperprior transforms and the
  entropy models. Outside the context the model computes in float32 again,
  as validation and exported models do.
  """
  if precision not in _COMPUTED:
    # "auto" included: resolve_precision says what it means on this machine.
    raise ValueError(f"unknown precision {precision!r}; choose one of {', '.join(_COMPUTED)}")
  if precision == "float32":
    yield
    return
  layers = _hidden_convolutions(model)
  policies = [layer.dtype_policy for layer in layers]
  # The layers are built (every model creates its weights when constructed), so their
  # variables stay plain float32 ones; SignalConv2D casts its kernel and bias to the
  # compute dtype of the policy in force.
  for layer in layers:
    layer._set_dtype_policy(_BFLOAT16)  # pylint: disable=protected-access
  try:
    yield
  finally:
    for layer, policy in zip(layers, policies):
      layer._set_dtype_policy(policy)  # pylint: disable=protected-access
