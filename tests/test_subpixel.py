"""Sub-pixel upsampling against the upsampling convolution's formula in float64 and tfc's layer."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_compression as tfc

from compressor.coding.store import load_model
from compressor.coding.zoo import resolve_model_dir
from compressor.nn.subpixel import upsampling_convolution
from compressor.nn.transforms import SynthesisTransform

RNG = np.random.default_rng(0)

# (kernel size, stride): the synthesis stages of bmshj2018 (5, 2) and bls2017 (9, 4), a kernel
# smaller than the stride, an even kernel and stride 1 (a plain convolution).
SUPPORTS = [(5, 2), (9, 4), (3, 4), (4, 2), (3, 1)]


def numpy_upsampling_conv(x, kernel, bias, stride):
  """Zeros between the inputs, then a convolution centred on each output, in float64.

  x[i] contributes x[i] K[a] to the output s i + a - k // 2 (on each axis).
  """
  x, kernel = x.astype(np.float64), kernel.astype(np.float64)
  n, h, w, _ = x.shape
  rows, cols = kernel.shape[:2]
  out = np.zeros((n, stride * h + rows, stride * w + cols, kernel.shape[-1]))
  for a in range(rows):
    for b in range(cols):
      out[:, a:a + stride * h:stride, b:b + stride * w:stride] += x @ kernel[a, b]
  return out[:, rows // 2:rows // 2 + stride * h, cols // 2:cols // 2 + stride * w] + bias


def upsampling_layer(kernel_size, stride, filters=4, channels=3, **kwargs):
  """A tfc upsampling convolution with random weights."""
  layer = tfc.SignalConv2D(filters, (kernel_size, kernel_size), corr=False, strides_up=stride,
                           padding="same_zeros", use_bias=True, **kwargs)
  layer.build((None, None, None, channels))
  layer.set_weights([w + RNG.normal(0.0, 0.3, w.shape).astype(np.float32)
                     for w in layer.get_weights()])
  return layer


@pytest.mark.parametrize("kernel_size,stride", SUPPORTS)
@pytest.mark.parametrize("height,width", [(5, 7), (1, 1), (6, 4)])
def test_matches_the_formula_and_tfc(kernel_size, stride, height, width):
  layer = upsampling_layer(kernel_size, stride)
  x = RNG.normal(size=(2, height, width, 3)).astype(np.float32)
  expected = numpy_upsampling_conv(x, layer.kernel.numpy(), layer.bias.numpy(), stride)
  scale = np.abs(expected).max()
  np.testing.assert_allclose(layer(x).numpy(), expected, atol=1e-5 * scale)
  np.testing.assert_allclose(upsampling_convolution(layer, x).numpy(), expected,
                             atol=1e-5 * scale)


def test_applies_the_activation():
  layer = upsampling_layer(5, 2, activation=tf.nn.relu)
  x = RNG.normal(size=(1, 3, 4, 3)).astype(np.float32)
  y = upsampling_convolution(layer, x).numpy()
  assert y.min() == 0.0 < y.max()
  np.testing.assert_allclose(y, layer(x).numpy(), atol=1e-5 * np.abs(y).max())


@pytest.mark.parametrize("settings", [
    dict(corr=True, strides_up=2, padding="same_zeros"),
    dict(strides_down=2, padding="same_zeros"),
    dict(strides_up=2, padding="valid"),
    dict(strides_up=(2, 1), padding="same_zeros"),
])
def test_refuses_what_it_does_not_compute(settings):
  layer = tfc.SignalConv2D(4, (5, 5), name="odd_one", **settings)
  layer.build((None, None, None, 3))
  with pytest.raises(ValueError, match="odd_one is not an upsampling convolution"):
    upsampling_convolution(layer, tf.zeros((1, 4, 4, 3)))


def test_synthesis_decodes_as_it_calls():
  synthesis = SynthesisTransform(16, [5, 5, 5, 5], [2, 2, 2, 2])
  latents = tf.constant(RNG.normal(size=(1, 3, 5, 8)).astype(np.float32))
  expected = synthesis(latents).numpy()
  np.testing.assert_allclose(synthesis.decode(latents).numpy(), expected,
                             atol=1e-5 * np.abs(expected).max())


def test_a_loaded_model_decodes_without_transposed_convolutions():
  model = load_model(resolve_model_dir("bmshj2018-factorized-q1"))
  graph = model._synthesize.get_concrete_function().graph
  ops = {op.type for op in graph.get_operations()}
  assert "DepthToSpace" in ops
  assert not ops & {"Conv2DBackpropInput", "Conv2DBackpropInputV2"}
