"""`compressor decompress [--model DIR] INPUT [OUTPUT]`: bitstream file to PNG."""

from absl import app, flags

from compressor.cli.common import describe, positional, user_errors
from compressor.codec import decompress_file, default_decompressed_path, model_resolver
from compressor.store import SEARCH_PATH_ENV, model_search_path

flags.DEFINE_string("model", None,
                    "Model directory; by default the model named in the file is looked "
                    f"up in --model_path and ${SEARCH_PATH_ENV}.")
flags.DEFINE_list("model_path", [], "Directories holding model directories.")
flags.DEFINE_bool("overwrite", False, "Replace OUTPUT if it exists.")
FLAGS = flags.FLAGS


@user_errors
def main(argv):
  input_path, output_path = positional(argv, ["INPUT", "OUTPUT"], required=1)
  output_path = output_path or default_decompressed_path(input_path)
  resolve = model_resolver(FLAGS.model, model_search_path(FLAGS.model_path))
  stats = decompress_file(resolve, input_path, output_path, overwrite=FLAGS.overwrite)
  print(describe(input_path, output_path, stats))


def run(argv):
  app.run(main, argv=argv)
