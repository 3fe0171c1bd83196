"""`compressor compress [--model DIR] INPUT [OUTPUT]`: image file to bitstream file."""

from absl import app, flags

from compressor.cli.common import describe, positional, user_errors
from compressor.codec import compress_file, default_compressed_path
from compressor.images import DEFAULT_MAX_PIXELS
from compressor.store import load_model
from compressor.zoo import resolve_model_dir

flags.DEFINE_string("model", None, "Model directory (see `compressor train`) or bundled "
                    "model name; default: the bundled default model.")
flags.DEFINE_bool("overwrite", False, "Replace OUTPUT if it exists.")
flags.DEFINE_integer("max_pixels", DEFAULT_MAX_PIXELS,
                     "Refuse larger images (memory grows with the pixel count).")
FLAGS = flags.FLAGS


@user_errors
def main(argv):
  input_path, output_path = positional(argv, ["INPUT", "OUTPUT"], required=1)
  model = load_model(resolve_model_dir(FLAGS.model))
  output_path = output_path or default_compressed_path(input_path)
  stats = compress_file(model, input_path, output_path, overwrite=FLAGS.overwrite,
                      max_pixels=FLAGS.max_pixels)
  for note in stats.notes:
    print(f"note: {note}")
  print(describe(input_path, output_path, stats))


def run(argv):
  app.run(main, argv=argv)
