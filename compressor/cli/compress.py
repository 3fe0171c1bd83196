"""`compressor compress [--model M] [--quality N | --target_bpp B] INPUT [OUTPUT]`."""

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
from compressor.coding.codec import compress_file, default_compressed_path
from compressor.coding.folders import compress_folder
from compressor.coding.refinement import EFFORT_LEVELS
from compressor.coding.store import LazyModels, load_model
from compressor.coding.zoo import DEFAULT_FAMILY, quality_levels, resolve_model_dir
from compressor.errors import ModelError

flags.DEFINE_string("model", None, "Model directory (see `compressor train`), bundled model "
                    f"name or bundled family (default: {DEFAULT_FAMILY}).")
flags.DEFINE_integer("quality", None, "Quality level of a bundled family, 1 = smallest files "
                     "(`compressor models` lists them); default: the middle level.", lower_bound=1)
flags.DEFINE_float("target_bpp", None, "Use the family's highest quality whose file fits in "
                   "this many bits per pixel (the lowest if none fits).", lower_bound=0.0)
flags.DEFINE_integer("effort", 0, "Encoder effort: 0 codes the analysis transform's latents; "
                     f"1-{max(EFFORT_LEVELS)} refine them for this image (smaller files at "
                     "the same quality, slower encoding, the same decoder).", lower_bound=0,
                     upper_bound=max(EFFORT_LEVELS))
define_output_flags()
FLAGS = flags.FLAGS


def _model():
  """(loaded model, None), or with --target_bpp (the family's models, loaded as used, target)."""
  if FLAGS.target_bpp is None:
    return load_model(resolve_model_dir(FLAGS.model, FLAGS.quality)), None
  if FLAGS.quality is not None:
    raise app.UsageError("--quality and --target_bpp are alternatives: give one")
  family = FLAGS.model or DEFAULT_FAMILY
  levels = quality_levels(family)
  if not levels:
    raise ModelError(f"--target_bpp needs a bundled model family with quality levels, "
                     f"not {family!r}")
  return LazyModels(levels.values()), FLAGS.target_bpp


@user_errors
def main(argv):
  input_path, output_path = positional(argv, ["INPUT", "OUTPUT"], required=1)
  model, target = _model()
  if os.path.isdir(input_path):
    check_folder_items(compress_folder(
        model, input_path, output_path, overwrite=FLAGS.overwrite, max_pixels=FLAGS.max_pixels,
        target_bpp=target, progress=print_folder_item, tile_size=tile_size(FLAGS.tile_size),
        effort=FLAGS.effort))
    return
  output_path = output_path or default_compressed_path(input_path)
  stats = compress_file(model, input_path, output_path, overwrite=FLAGS.overwrite,
                        max_pixels=FLAGS.max_pixels, target_bpp=target,
                        tile_size=tile_size(FLAGS.tile_size), effort=FLAGS.effort)
  for note in stats.notes:
    print(f"note: {note}")
  print(describe(input_path, output_path, stats))


def run(argv):
  app.run(main, argv=argv)
