"""A/B of two trained models, paired image by image on the training loss (bpp + lambda x MSE).

  compressor evaluate --curve float=runs/ab/float --curve integer=runs/ab/integer \
    --codecs= --anchor= --images 'data/val/cbsd68/*.png' --output_dir runs/ab/eval
  python scripts/compare_arms.py --per_image runs/ab/eval/per_image.csv --lambda 0.0075 \
    --baseline float --candidate integer

Prints each arm's mean bpp, PSNR and loss, and the candidate's loss minus the baseline's with
its standard error and the number of images on which the candidate's is lower. --output_json
writes the same figures.
"""

import json

from absl import app, flags

from compressor.errors import EvaluationError
from compressor.evaluation.paired import paired_loss
from compressor.evaluation.rate_distortion import read_rows
from compressor.fileio import write_text_atomically

flags.DEFINE_multi_string("per_image", None, "per_image.csv of `compressor evaluate`; repeat "
                          "to read the arms from several evaluations.")
flags.DEFINE_float("lambda", None, "The lambda both arms were trained with.")
flags.DEFINE_string("baseline", None, "Curve name of the baseline arm.")
flags.DEFINE_string("candidate", None, "Curve name of the candidate arm.")
flags.DEFINE_string("output_json", None, "Also write the figures here.")
flags.mark_flags_as_required(["per_image", "lambda", "baseline", "candidate"])
FLAGS = flags.FLAGS


def main(argv):
  del argv
  rows = []
  for path in FLAGS.per_image:
    found = read_rows(path)
    if not found:
      raise app.UsageError(f"no per-image rows in {path}")
    rows += found
  try:
    summary = paired_loss(rows, FLAGS["lambda"].value, FLAGS.baseline, FLAGS.candidate)
  except EvaluationError as e:
    raise app.UsageError(str(e)) from None
  print(f"{'arm':16} {'bpp':>8} {'PSNR (dB)':>10} {'loss':>8}   on {summary['images']} images")
  for name in (FLAGS.baseline, FLAGS.candidate):
    arm = summary[name]
    print(f"{name:16} {arm['bpp']:8.4f} {arm['psnr']:10.2f} {arm['loss']:8.4f}")
  print(f"{FLAGS.candidate} - {FLAGS.baseline}: loss {summary['difference']:+.4f} "
        f"(SE {summary['standard_error']:.4f}), lower on {summary['candidate_lower']} of "
        f"{summary['images']} images")
  if FLAGS.output_json:
    write_text_atomically(FLAGS.output_json, json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
  app.run(main)
