"""Integer networks (Ballé, Johnston & Minnen, ICLR 2019): layers whose decoding is exact anywhere.

A floating-point convolution may round differently on another CPU, build or
thread count, because the order of its sums is not fixed. A hyper-synthesis
whose outputs choose the range coder's tables must not: one index on the other
side of a rounding boundary and the decoder reads the rest of the payload
with the wrong probabilities. These layers compute on integers only.

Every tensor is an integer tensor with a fixed-point scale: it stands for
x / 2^bits. A layer's kernel is H = round(K * 2^WEIGHT_BITS) and its bias
B = round(b * 2^(WEIGHT_BITS + input_bits)), both clipped to bounds; the sum
v = H * x + B is an exact integer, and the output is round(v / 2^shift),
clipped (the hidden layers' clip at zero is the paper's bounded ReLU).

Exactness: in `exact` mode the integers are held in float64, which represents
every integer below 2^53 exactly, so each product and partial sum of a
convolution is exact in any order, with or without fused multiply-adds or
threads; the bounds below keep every sum under 2^53 (see docs/models.md).
Division by a power of two and the rounding after it are exact too. In
training, the same computation runs in float32 with straight-through
rounding, so the float weights learn what their integer versions compute.
"""

import math

import tensorflow as tf

__all__ = [
    "ACTIVATION_BITS",
    "ACTIVATION_RANGE_BITS",
    "IntegerConv",
    "WEIGHT_BITS",
    "round_st",
]

# Fractional bits of the kernels: K = 0.3 becomes H = 77 (0.30078...).
WEIGHT_BITS = 8
# Fractional bits of the hidden activations, which lie in [0, 2^ACTIVATION_RANGE_BITS).
ACTIVATION_BITS = 4
ACTIVATION_RANGE_BITS = 8
# Bounds on the integers, which keep every sum of a k x k x C convolution below
# 2^53: |H| <= 2^15, inputs below 2^15 and at most 2^14 terms a sum give 2^44.
_MAX_WEIGHT = 2.0 ** 15
_MAX_INPUT = 2.0 ** 15
_MAX_BIAS = 2.0 ** 46
_MAX_TERMS = 2 ** 14


def round_st(x):
  """Rounding, half up, with the identity's gradient (a straight-through estimator)."""
  return x + tf.stop_gradient(tf.floor(x + 0.5) - x)


class IntegerConv(tf.keras.layers.Layer):
  """A convolution (or, with `upsample` > 1, a transposed one) on fixed-point integers.

  Input: integers x standing for x / 2^input_bits. Output: integers y standing
  for y / 2^output_bits, clipped to [low, high] (in the output's integer units,
  at most 2^24 in magnitude so that float32 holds them; None: unbounded).
  `bias_initializer` sets the bias in the output's units, before scaling.
  `call(x, exact=True)` computes in float64 integers, the same on every
  machine; `exact=False` is the float32 straight-through version for training.
  With `gain_bits` g the trained variables hold the kernel and bias divided by
  2^g: training (Adam moves each variable by about the learning rate) moves
  the layer's outputs 2^g times as fast. Multiplying by a power of two is exact
  in float32, so the integers stay the same on every machine.
  """

  def __init__(self, filters, kernel_size, upsample=1, input_bits=0, output_bits=0,
               low=None, high=None, bias_initializer="zeros", gain_bits=0, **kwargs):
    super().__init__(**kwargs)
    self.filters = int(filters)
    self.kernel_size = int(kernel_size)
    self.upsample = int(upsample)
    self.input_bits = int(input_bits)
    self.output_bits = int(output_bits)
    self.low, self.high = low, high
    self.bias_initializer = tf.keras.initializers.get(bias_initializer)
    self.gain_bits = int(gain_bits)

  def build(self, input_shape):
    channels = int(input_shape[-1])
    if self.kernel_size ** 2 * channels > _MAX_TERMS:
      raise ValueError(f"{self.kernel_size}x{self.kernel_size}x{channels} terms a sum could "
                       "exceed the integers float64 holds exactly")
    gain = 2.0 ** self.gain_bits
    self.kernel = self.add_weight(
        "kernel", (self.kernel_size, self.kernel_size, channels, self.filters),
        initializer=tf.keras.initializers.VarianceScaling(
            scale=gain ** -2, mode="fan_in" if self.upsample == 1 else "fan_out"))
    self.bias = self.add_weight(
        "bias", (self.filters,),
        initializer=lambda *args, **kwargs: self.bias_initializer(*args, **kwargs) / gain)
    super().build(input_shape)

  def integer_weights(self, exact):
    """(H, B): the kernel and bias as the integers the layer computes with."""
    if exact:
      rounding = lambda x: tf.floor(x + 0.5)
    else:
      rounding = round_st
    kernel = rounding(self.kernel * 2.0 ** (WEIGHT_BITS + self.gain_bits))
    bias = rounding(self.bias * 2.0 ** (WEIGHT_BITS + self.gain_bits + self.input_bits))
    return (tf.clip_by_value(kernel, -_MAX_WEIGHT, _MAX_WEIGHT),
            tf.clip_by_value(bias, -_MAX_BIAS, _MAX_BIAS))

  def call(self, inputs, exact=False):
    kernel, bias = self.integer_weights(exact)
    dtype = tf.float64 if exact else tf.float32
    inputs = tf.clip_by_value(tf.cast(inputs, dtype), -_MAX_INPUT, _MAX_INPUT)
    kernel, bias = tf.cast(kernel, dtype), tf.cast(bias, dtype)
    if self.upsample == 1:
      sums = tf.nn.conv2d(inputs, kernel, strides=1, padding="SAME")
    else:
      shape = tf.shape(inputs)
      output_shape = tf.stack([shape[0], shape[1] * self.upsample, shape[2] * self.upsample,
                               self.filters])
      # conv2d_transpose takes the kernel as (height, width, out, in).
      sums = tf.nn.conv2d_transpose(inputs, tf.transpose(kernel, (0, 1, 3, 2)), output_shape,
                                    strides=self.upsample, padding="SAME")
    sums += bias
    # The sums stand for v / 2^(WEIGHT_BITS + input_bits): dividing by a power of
    # two, then rounding, is exact in float64.
    shift = WEIGHT_BITS + self.input_bits - self.output_bits
    scaled = sums / 2.0 ** shift
    outputs = tf.floor(scaled + 0.5) if exact else round_st(scaled)
    if self.low is not None or self.high is not None:
      outputs = tf.clip_by_value(outputs, -math.inf if self.low is None else self.low,
                                 math.inf if self.high is None else self.high)
    return tf.cast(outputs, tf.float32) if exact else outputs

  def get_config(self):
    return dict(super().get_config(), filters=self.filters, kernel_size=self.kernel_size,
                upsample=self.upsample, input_bits=self.input_bits,
                output_bits=self.output_bits, low=self.low, high=self.high,
                bias_initializer=tf.keras.initializers.serialize(self.bias_initializer),
                gain_bits=self.gain_bits)
