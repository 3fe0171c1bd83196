"""`compressor decompress [--model DIR] INPUT [OUTPUT]`: bitstream file to PNG."""

from absl import app, flags

from compressor.cli.common import define_output_flags, describe, positional, user_errors
from compressor.codec import decompress_file, default_decompressed_path, model_resolver
from compressor.store import SEARCH_PATH_ENV, model_search_path
from compressor.zoo import resolve_model_dir

flags.DEFINE_string("model", None,
                    "Model directory or bundled model name; by default the model named "
                    f"in the file is looked up in --model_path, ${SEARCH_PATH_ENV} and "
                    "the bundled models.")
flags.DEFINE_list("model_path", [], "Directories holding model directories.")
define_output_flags()
FLAGS = flags.FLAGS


@user_errors
def main(argv):
  input_path, output_path = positional(argv, ["INPUT", "OUTPUT"], required=1)
  output_path = output_path or default_decompressed_path(input_path)
  model_dir = None if FLAGS.model is None else resolve_model_dir(FLAGS.model)
  resolve = model_resolver(model_dir, model_search_path(FLAGS.model_path))
  stats = decompress_file(resolve, input_path, output_path, overwrite=FLAGS.overwrite,
                      max_pixels=FLAGS.max_pixels)
  print(describe(input_path, output_path, stats))


def run(argv):
  app.run(main, argv=argv)
