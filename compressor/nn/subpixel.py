"""Upsampling convolutions computed as sub-pixel convolutions: tfc's outputs, with less memory."""

import functools

import numpy as np
import tensorflow as tf
import tensorflow_compression as tfc

__all__ = ["phase_taps", "upsampling_convolution"]


def phase_taps(kernel_size, stride):
  """Which kernel tap each phase of an upsampling convolution applies to which input offset.

  tfc's upsampling convolution ("same_zeros", corr=False, extra_pad_end) of an
  input x by `stride` s with a kernel K of `kernel_size` k is
  y[s m + r] = sum over t of x[m + t] K[r + k // 2 - s t]: each phase r of the
  output is a stride-1 correlation of x with the taps of that phase. Returns
  (taps, before, after): taps[t - t_min, r] is the index into K of the tap at
  offset t for phase r, or k where that phase has no tap there (a zero), and
  before = -t_min, after = t_max the zero padding that correlation needs.
  """
  centre = kernel_size // 2
  t_min = -((kernel_size - 1 - centre) // stride)
  t_max = (stride - 1 + centre) // stride
  taps = np.full((t_max - t_min + 1, stride), kernel_size, np.int32)
  for t in range(t_min, t_max + 1):
    for r in range(stride):
      index = r + centre - stride * t
      if 0 <= index < kernel_size:
        taps[t - t_min, r] = index
  return taps, -t_min, t_max


@functools.lru_cache(maxsize=None)
def _phase_kernel_taps(kernel_support, stride):
  """(taps, padding) of a 2-D kernel: phase_taps on both axes, as indexes into the flat kernel.

  taps[row offset, column offset, phase] indexes the kernel flattened over its
  spatial axes, or one past its end (a zero appended to it) where that phase
  has no tap; phases in depth_to_space's channel order, row phase * s + column
  phase.
  """
  (rows, top, bottom), (cols, left, right) = (
      phase_taps(size, stride) for size in kernel_support)
  row_size, col_size = kernel_support
  valid = (rows[:, None, :, None] < row_size) & (cols[None, :, None, :] < col_size)
  flat = np.where(valid, rows[:, None, :, None] * col_size + cols[None, :, None, :],
                  row_size * col_size)
  taps = flat.reshape(rows.shape[0], cols.shape[0], stride * stride)
  return taps, ((0, 0), (top, bottom), (left, right), (0, 0))


def upsampling_convolution(layer, inputs):
  """A tfc.SignalConv2D upsampling convolution's outputs, computed as a sub-pixel convolution.

  The same outputs (up to float rounding), bias and activation included, as
  `layer(inputs)` for a layer with corr=False, padding="same_zeros" and the
  same strides_up s on both axes. tfc computes it as a transposed convolution,
  whose CPU kernel in TensorFlow touches several times the memory of its
  output: the first decode of a photo spent most of its time faulting those
  pages in (docs/speed.md). Here the kernel's taps are regrouped by output
  phase (`phase_taps`) into a stride-1 kernel with s * s times the output
  channels, one tf.nn.conv2d computes every phase, and tf.nn.depth_to_space
  puts each phase's pixels in place. It is for decoding only: with
  gradients, training and latent refinement measured 9-18% slower this way
  (docs/speed.md), so they call the layer.
  """
  if (not isinstance(layer, tfc.SignalConv2D) or layer.corr or layer.padding != "same_zeros"
      or layer.channel_separable or layer.data_format != "channels_last"
      or any(s != 1 for s in layer.strides_down) or layer.strides_up[0] != layer.strides_up[1]):
    raise ValueError(
        f"{layer.name} is not an upsampling convolution as a sub-pixel one computes it: "
        "a tfc.SignalConv2D with corr=False, padding='same_zeros', channels_last, no "
        "strides_down and the same strides_up on both axes")
  stride = layer.strides_up[0]
  taps, padding = _phase_kernel_taps(tuple(layer.kernel_support), stride)
  kernel = layer.kernel
  channels_in, channels_out = kernel.shape[-2], kernel.shape[-1]
  flat = tf.reshape(kernel, [-1, channels_in, channels_out])
  flat = tf.concat([flat, tf.zeros_like(flat[:1])], axis=0)
  phases = tf.transpose(tf.gather(flat, taps), [0, 1, 3, 2, 4])  # (rows, cols, in, phase, out)
  phases = tf.reshape(phases, list(taps.shape[:2]) + [channels_in, -1])
  outputs = tf.nn.conv2d(inputs, phases, strides=1, padding=list(padding))
  if stride > 1:
    outputs = tf.nn.depth_to_space(outputs, stride)
  if layer.use_bias:
    outputs = tf.nn.bias_add(outputs, layer.bias)
  if layer.activation is not None:
    outputs = layer.activation(outputs)
  return outputs
