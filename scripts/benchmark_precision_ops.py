"""bfloat16 against float32 for the convolutions of the transforms, op by op, on this CPU.

  python scripts/benchmark_precision_ops.py --repeats 5

Times a forward and backward pass of each op (inputs and kernel cast to the precision, the
loss and gradient in float32), float32 and bfloat16 interleaved, and prints the medians and
float32 / bfloat16. On CPUs with AMX (Intel Xeon since Sapphire Rapids) oneDNN runs bfloat16
convolutions in the matrix units. The "EXPLICIT" and "pad + VALID" rows are the two ways
tfc.SignalConv2D pads with zeros (use_explicit=True, its default, or False, which the
analysis and synthesis transforms use: docs/training.md, "Training speed").
"""

import statistics
import time

from absl import app, flags

flags.DEFINE_integer("batch", 8, "Crops per batch.")
flags.DEFINE_integer("size", 32, "Input height and width of each op (the stride-2 ops' "
                     "outputs are half or twice that).")
flags.DEFINE_integer("channels", 128, "Filters in and out.")
flags.DEFINE_integer("repeats", 5, "Timed passes per op and precision, in each of 3 rounds.")
FLAGS = flags.FLAGS


def _ops(tf, batch, size, channels):
  pad = [[0, 0], [2, 2], [2, 2], [0, 0]]
  return {
      "conv 5x5": lambda x, k: tf.nn.conv2d(x, k, 1, "SAME"),
      "conv 5x5 stride 2": lambda x, k: tf.nn.conv2d(x, k, 2, "SAME"),
      "conv 5x5 stride 2, EXPLICIT": lambda x, k: tf.nn.conv2d(x, k, 2, pad),
      "conv 5x5 stride 2, pad + VALID": lambda x, k: tf.nn.conv2d(tf.pad(x, pad), k, 2,
                                                                  "VALID"),
      "transposed conv 5x5 stride 2": lambda x, k: tf.nn.conv2d_transpose(
          x, k, (batch, 2 * size, 2 * size, channels), 2, "SAME"),
      "transposed, EXPLICIT": lambda x, k: tf.nn.conv2d_transpose(
          x, k, (batch, 2 * size, 2 * size, channels), 2, [[0, 0], [2, 1], [2, 1], [0, 0]]),
      "transposed, VALID + crop": lambda x, k: tf.nn.conv2d_transpose(
          x, k, (batch, 2 * size + 3, 2 * size + 3, channels), 2, "VALID")[:, 2:-1, 2:-1],
      "GDN-like 1x1 normalization": lambda x, k: x * tf.math.rsqrt(
          1.0 + tf.nn.conv2d(x * x, tf.abs(k[2:3, 2:3]), 1, "SAME")),
  }


def main(argv):
  del argv
  import tensorflow as tf
  inputs = tf.random.normal((FLAGS.batch, FLAGS.size, FLAGS.size, FLAGS.channels))
  kernel = tf.Variable(tf.random.normal((5, 5, FLAGS.channels, FLAGS.channels)) * 0.05)

  def seconds(op, dtype):
    @tf.function
    def step():
      with tf.GradientTape() as tape:
        outputs = op(tf.cast(inputs, dtype), tf.cast(kernel, dtype))
        loss = tf.reduce_sum(tf.cast(outputs, tf.float32) ** 2)
      return tape.gradient(loss, kernel)
    step()  # trace
    times = []
    for _ in range(FLAGS.repeats):
      start = time.perf_counter()
      step().numpy()
      times.append(time.perf_counter() - start)
    return times

  print(f"{'op':32} {'float32 (ms)':>12} {'bfloat16 (ms)':>13} {'float32/bfloat16':>17}")
  for name, op in _ops(tf, FLAGS.batch, FLAGS.size, FLAGS.channels).items():
    times = {tf.float32: [], tf.bfloat16: []}
    for _ in range(3):
      for dtype, found in times.items():
        found += seconds(op, dtype)
    full, half = (1e3 * statistics.median(times[d]) for d in (tf.float32, tf.bfloat16))
    print(f"{name:32} {full:12.1f} {half:13.1f} {full / half:17.2f}")


if __name__ == "__main__":
  app.run(main)
