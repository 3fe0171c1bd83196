"""`compressor evaluate`: rate-distortion of models and classical codecs on a folder."""

import glob

from absl import app, flags, logging

from compressor.cli.common import no_positional, user_errors
from compressor.coding.zoo import bundled_models, resolve_model_dir
from compressor.errors import CompressorError
from compressor.evaluation.classical import CODECS
from compressor.evaluation.rate_distortion import (
  classical_curve,
  evaluate,
  model_curve,
  parse_curve_spec,
)
from compressor.training.data import list_images

flags.DEFINE_multi_string("model", [], "Model directory or bundled name; repeat for more "
                          "rate points (default: the bundled models).")
flags.DEFINE_string("name", "compressor", "Curve name for the --model rate points.")
flags.DEFINE_multi_string("curve", [], "NAME=MODEL[,MODEL...]: another model curve, e.g. to "
                          "compare architectures; repeat for more.")
flags.DEFINE_list("effort", ["0"], "Encoder efforts (see `compressor compress --effort`) at "
                  "which every model curve is measured, e.g. 0,1,2; a curve at effort N > 0 "
                  "is named NAME-effortN.")
flags.DEFINE_string("images", None, "Glob of the images to evaluate on.")
flags.DEFINE_list("codecs", [c.name for c in CODECS], "Classical codecs (empty for none).")
flags.DEFINE_string("anchor", "jpeg-420", "Curve the BD-rate table compares against.")
flags.DEFINE_multi_string("reference", [], "Reference curve JSON files to draw (globs).")
flags.DEFINE_string("visual_image", None, "Image for the side-by-side crops (a path).")
flags.DEFINE_integer("crop", 128, "Side of the visual comparison crops.")
flags.DEFINE_string("output_dir", "evaluation", "Where results go; a rerun resumes.")
flags.mark_flag_as_required("images")
FLAGS = flags.FLAGS


@user_errors
def main(argv):
  no_positional(argv)
  logging.set_verbosity(logging.INFO)
  extra = [parse_curve_spec(spec) for spec in FLAGS.curve]
  model_dirs = [resolve_model_dir(m) for m in FLAGS.model]
  if not model_dirs and not extra:
    model_dirs = list(bundled_models().values())
  try:
    efforts = [int(effort) for effort in FLAGS.effort]
  except ValueError:
    raise app.UsageError(f"--effort takes integers, not {','.join(FLAGS.effort)}") from None
  named = ([(FLAGS.name, model_dirs)] if model_dirs else []) + [
      (name, [resolve_model_dir(m) for m in models]) for name, models in extra]
  curves = [model_curve(dirs, f"{name}-effort{effort}" if effort else name, effort)
            for name, dirs in named for effort in efforts]
  try:
    curves += [classical_curve(name) for name in FLAGS.codecs if name]
  except ValueError as e:
    raise CompressorError(str(e)) from None
  if not curves:
    raise CompressorError("nothing to evaluate: no model and no codec")
  references = sorted(p for pattern in FLAGS.reference for p in glob.glob(pattern))
  outputs = evaluate(list_images(FLAGS.images), curves, FLAGS.output_dir,
                     anchor=FLAGS.anchor, references=references,
                     visual_image=FLAGS.visual_image, crop=FLAGS.crop,
                     dataset=FLAGS.images)
  for kind, path in outputs.items():
    print(f"{kind}: {path}")
  if "bd_table" in outputs:
    with open(outputs["bd_table"]) as f:
      print(f.read(), end="")


def run(argv):
  app.run(main, argv=argv)
