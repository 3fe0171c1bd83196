"""Adds a point to the training campaign's learning curve (docs/learning_curve.json and .png).

  python scripts/learning_curve.py --curve runs/eval/curves/bmshj2018-factorized.json \
    --anchor docs/cbsd68/jpeg-420.json --anchor docs/cbsd68/webp.json \
    --machine_hours 4.9 --date 2026-12-01

The curve is the family as `compressor evaluate` measured it on the validation set; the
levels' lambdas and total steps come from the bundled family's metadata (--family).
"""

import datetime
import json

from absl import app, flags

from compressor.coding import zoo
from compressor.coding.store import read_description
from compressor.evaluation import plots
from compressor.evaluation.learning_curve import add_point, curve_point

flags.DEFINE_string("curve", None, "The family's curve from `compressor evaluate`.")
flags.DEFINE_multi_string("anchor", [], "Curves to take BD-rates against, e.g. JPEG and WebP.")
flags.DEFINE_string("family", zoo.DEFAULT_FAMILY, "The bundled family the curve measured.")
flags.DEFINE_float("machine_hours", None, "The family's training time so far, in hours of "
                   "this machine.")
flags.DEFINE_string("date", datetime.date.today().isoformat(), "Date of the point.")
flags.DEFINE_string("note", "", "What this stretch of training was.")
flags.DEFINE_string("output", "docs/learning_curve.json", "The learning curve's JSON.")
flags.DEFINE_string("plot", "docs/learning_curve.png", "The learning curve's figure.")
flags.mark_flags_as_required(["curve", "machine_hours"])
FLAGS = flags.FLAGS


def _load(path):
  with open(path) as f:
    return json.load(f)


def main(argv):
  del argv
  levels = []
  for quality, directory in zoo.quality_levels(FLAGS.family).items():
    metadata = read_description(directory)["metadata"]
    levels.append((quality, metadata["lambda"],
                   metadata.get("total_steps", metadata["steps"])))
  point = curve_point(_load(FLAGS.curve), [_load(a) for a in FLAGS.anchor], levels,
                      FLAGS.machine_hours, FLAGS.date, FLAGS.note)
  points = add_point(FLAGS.output, point)
  plots.learning_curve_plot(points, FLAGS.plot)
  print(json.dumps(point, indent=2))


if __name__ == "__main__":
  app.run(main)
