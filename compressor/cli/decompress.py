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
from compressor.coding.codec import decompress_file, default_decompressed_path
from compressor.coding.folders import decompress_folder
from compressor.coding.store import SEARCH_PATH_ENV, ModelFinder, model_search_path
from compressor.coding.zoo import resolve_model_dir

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
  # Loads each model once: for a folder, once per model its files name.
  models = ModelFinder(model_dir, model_search_path(FLAGS.model_path))
  if os.path.isdir(input_path):
    check_folder_items(decompress_folder(
        models, input_path, output_path, overwrite=FLAGS.overwrite, max_pixels=FLAGS.max_pixels,
        progress=print_folder_item, tile_size=tile_size(FLAGS.tile_size)))
    return
  output_path = output_path or default_decompressed_path(input_path)
  stats = decompress_file(models, input_path, output_path, overwrite=FLAGS.overwrite,
                          max_pixels=FLAGS.max_pixels, tile_size=tile_size(FLAGS.tile_size))
  print(describe(input_path, output_path, stats))


def run(argv):
  app.run(main, argv=argv)
