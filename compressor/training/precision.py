"""Training precision: hidden transform convolutions in bfloat16, the rest in float32."""

import contextlib

import tensorflow as tf
import tensorflow_compression as tfc

__all__ = ["PRECISIONS", "training_precision"]

PRECISIONS = ("float32", "bfloat16")

_BFLOAT16 = tf.keras.mixed_precision.Policy("mixed_bfloat16")


def _hidden_convolutions(model):
  """The convolutions of the analysis and synthesis transforms that a normalization follows."""
  return [layer for transform in (model.analysis, model.synthesis) for layer in transform.layers
          # A normalization is a layer; SignalConv2D makes "no activation" the identity.
          if isinstance(layer, tfc.SignalConv2D)
          and isinstance(layer.activation, tf.keras.layers.Layer)]


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
  if precision not in PRECISIONS:
    raise ValueError(f"unknown precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
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
