"""`compressor demo`: the main job in one command, on a public-domain photo."""

from absl import app, flags, logging

from compressor.cli.common import user_errors
from compressor.demo import PHOTOS, run_demo

flags.DEFINE_enum("photo", "astronaut", list(PHOTOS), "scikit-image photo to compress.")
flags.DEFINE_string("model", None, "Model directory; without it a small model is trained first.")
flags.DEFINE_string("output_dir", "demo_output", "Where the photo, bitstream and PNG go.")
flags.DEFINE_integer("train_steps", 400, "Steps for the quick model when --model is not given.")
FLAGS = flags.FLAGS


@user_errors
def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
  logging.set_verbosity(logging.INFO)
  result = run_demo(FLAGS.output_dir, FLAGS.photo, FLAGS.model, FLAGS.train_steps)
  print(f"{result.photo} ({result.width}x{result.height}) -> {result.compressed}: "
        f"{result.num_bytes} bytes, {result.bpp:.4f} bpp")
  print(f"decoded to {result.decoded}: PSNR {result.psnr:.2f} dB")


def run(argv):
  app.run(main, argv=argv)
