"""`compressor decompress [--model DIR] INPUT [OUTPUT]`: bitstream files (or a folder) to PNG."""

import os

from absl import app, flags

from compressor.cli.common import (
  check_folder_items,
  define_output_flags,
  describe,
  positional,
  print_folder_item,
  tile_size,
  user_errors,
)
from compressor.codec import (
  decompress_file,
  decompress_folder,
  default_decompressed_path,
  model_resolver,
)
from compressor.store import SEARCH_PATH_ENV, load_model, model_search_path
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
  model_dir = None if FLAGS.model is None else resolve_model_dir(FLAGS.model)
  resolve = model_resolver(model_dir, model_search_path(FLAGS.model_path))
  if os.path.isdir(input_path):
    # Loaded once for the folder; without --model, once per model the files name.
    model = resolve if model_dir is None else load_model(model_dir)
    check_folder_items(decompress_folder(
        model, input_path, output_path, overwrite=FLAGS.overwrite, max_pixels=FLAGS.max_pixels,
        progress=print_folder_item, tile_size=tile_size(FLAGS.tile_size)))
    return
  output_path = output_path or default_decompressed_path(input_path)
  stats = decompress_file(resolve, input_path, output_path, overwrite=FLAGS.overwrite,
                          max_pixels=FLAGS.max_pixels, tile_size=tile_size(FLAGS.tile_size))
  print(describe(input_path, output_path, stats))


def run(argv):
  app.run(main, argv=argv)
