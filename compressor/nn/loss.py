"""The rate-distortion loss that training minimises and encoder effort refines for."""

import tensorflow as tf

__all__ = ["rate_distortion_loss"]


def rate_distortion_loss(images, reconstructions, bits, lmbda):
  """(bpp + lambda * MSE, bpp, MSE) of images (batch or one) and their reconstructions.

  `bits` is the rate of each image (or of the one); MSE is on the [0, 255]
  scale, as in TFC's bls2017 example, so lambda means what it means there.
  """
  num_pixels = tf.cast(tf.reduce_prod(tf.shape(images)[:-1]), tf.float32)
  bpp = tf.reduce_sum(tf.cast(bits, tf.float32)) / num_pixels
  mse = tf.reduce_mean(tf.math.squared_difference(tf.cast(images, tf.float32),
                                                  tf.cast(reconstructions, tf.float32)))
  return bpp + lmbda * mse, bpp, mse
