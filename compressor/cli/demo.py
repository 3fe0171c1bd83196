"""`compressor demo`: the main job in one command, on a public-domain photo."""

from absl import app, flags, logging

from compressor.cli.common import no_positional, user_errors
from compressor.demo import PHOTOS, run_demo

flags.DEFINE_enum("photo", "astronaut", list(PHOTOS), "scikit-image photo to compress.")
flags.DEFINE_string("model", None, "Model directory or bundled model name (default: the "
                    "bundled default family's middle level).")
flags.DEFINE_string("output_dir", "demo_output", "Where the photo, bitstream and PNG go.")
FLAGS = flags.FLAGS


@user_errors
def main(argv):
  no_positional(argv)
  logging.set_verbosity(logging.INFO)
  result = run_demo(FLAGS.output_dir, FLAGS.photo, FLAGS.model)
  print(f"{result.photo} ({result.width}x{result.height}) with model {result.model} -> "
        f"{result.compressed}: "
        f"{result.num_bytes} bytes, {result.bpp:.4f} bpp")
  print(f"decoded to {result.decoded}: PSNR {result.psnr:.2f} dB")


def run(argv):
  app.run(main, argv=argv)
