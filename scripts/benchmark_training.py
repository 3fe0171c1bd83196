"""Time-to-quality benchmark: training recipes in turn, each alone for one wall-clock budget.

  arch=configs/architectures/bmshj2018-factorized.flags
  python scripts/benchmark_training.py --minutes 35 \
    --recipe reference=$arch+configs/recipes/paper.flags \
    --recipe quick=$arch+configs/recipes/quick-cpu.flags \
    --train_glob 'data/train/**/*' --images 'data/val/cbsd68/*.png' --output_dir ttq/

Prints, per recipe, the steps reached, bpp and PSNR of real bitstreams on --images, and the
PSNR gain over JPEG 4:2:0 at the same bpp.
"""

from absl import app, flags

from compressor.tools.recipes import parse_recipe
from compressor.tools.time_to_quality import compare_recipes
from compressor.training.data import list_images

flags.DEFINE_multi_string("recipe", [], "NAME=FLAGFILE[+FLAGFILE...] of a training recipe "
                          "(architecture, then recipe); repeat.")
flags.DEFINE_float("minutes", 35.0, "Wall-clock training budget of every recipe.")
flags.DEFINE_string("train_glob", None, "Training images.")
flags.DEFINE_string("images", None, "Images to measure on.")
flags.DEFINE_string("output_dir", "time_to_quality", "Runs, logs and results.")
flags.mark_flags_as_required(["train_glob", "images"])
FLAGS = flags.FLAGS


def main(argv):
  del argv
  try:
    recipes = [parse_recipe(r) for r in FLAGS.recipe]
  except ValueError as e:
    raise app.UsageError(str(e)) from None
  if len(recipes) < 2:
    raise app.UsageError("give at least two --recipe NAME=FLAGFILE[+FLAGFILE...]")
  report = compare_recipes(recipes, FLAGS.minutes, FLAGS.train_glob,
                           list_images(FLAGS.images), FLAGS.output_dir)
  print(f"{'recipe':16} {'steps':>7} {'bpp':>7} {'PSNR':>7}  gain over JPEG at that bpp")
  for r in report:
    gain = "n/a" if r["psnr_gain_over_anchor"] is None else \
        f"{r['psnr_gain_over_anchor']:+.2f} dB"
    print(f"{r['recipe']:16} {r['steps']:7d} {r['bpp']:7.3f} {r['psnr']:7.2f}  {gain}")


if __name__ == "__main__":
  app.run(main)
