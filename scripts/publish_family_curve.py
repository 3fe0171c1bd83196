"""Puts a newly bundled family's curve into docs/cbsd68/, with its BD-rate tables and plot.

  python scripts/publish_family_curve.py \
    --curve runs/eval-family/curves/bmshj2018-factorized.json \
    --replaced_date 2026-12-04 --description "bundled 2026-12-06: ..."

The family's curve so far (docs/cbsd68/bmshj2018-factorized.json) is kept as
bmshj2018-factorized-REPLACED_DATE.json; the new one takes its place. Then
bd_table_vs_jpeg-420.json is computed again over every stored curve, the table against the
replaced family takes the place of the one against the family before it (the table against
the first family, of 2026-11-24, stays; those two are against the new family, WebP and JPEG
4:2:0), and docs/rd-cbsd68.png is drawn again: the new
family, the one it replaced, the first one, the other architectures and the classical codecs,
with the published reference curves if --references finds them.
"""

import glob
import json
import os

from absl import app, flags

from compressor.evaluation import plots
from compressor.evaluation.rate_distortion import bd_table
from compressor.fileio import write_text_atomically

flags.DEFINE_string("curve", None, "The new family's curve from `compressor evaluate`.")
flags.DEFINE_string("replaced_date", None, "Date the family it replaces was bundled, "
                    "e.g. 2026-12-04.")
flags.DEFINE_string("description", None, "What the new family is, for its curve's JSON.")
flags.DEFINE_string("family", "bmshj2018-factorized", "The family's curve name.")
flags.DEFINE_string("docs_dir", "docs/cbsd68", "Where the curves and tables are kept.")
flags.DEFINE_string("plot", "docs/rd-cbsd68.png", "The rate-distortion figure.")
flags.DEFINE_string("references", "../shared/anchors/compressai-*.json",
                    "Glob of published curves to draw dashed.")
flags.DEFINE_string("first_date", "2026-11-24", "The first family, kept in every plot.")
flags.DEFINE_string("title", "CBSD68 (68 photos)", "The figure's title.")
flags.mark_flags_as_required(["curve", "replaced_date", "description"])
FLAGS = flags.FLAGS

# Curves of other kinds than the family, in the order of the tables.
_OTHERS = ("mbt2018-mean", "bmshj2018-hyperprior", "jpeg-444", "webp", "avif", "jpeg2000",
           "jpeg-420")


def _read(path):
  with open(path) as f:
    return json.load(f)


def _write(path, data):
  write_text_atomically(path, json.dumps(data, indent=2) + "\n")


def main(argv):
  del argv
  family, docs = FLAGS.family, FLAGS.docs_dir
  current_path = os.path.join(docs, f"{family}.json")
  replaced = f"{family}-{FLAGS.replaced_date}"
  replaced_path = os.path.join(docs, f"{replaced}.json")
  if os.path.exists(replaced_path):
    raise app.UsageError(f"{replaced_path} exists: the family of that date is already kept")
  new = _read(FLAGS.curve)
  new.update(name=family, description=FLAGS.description)
  old = _read(current_path)
  old["name"] = replaced
  _write(replaced_path, old)
  _write(current_path, new)

  archived = sorted((_read(p) for p in glob.glob(os.path.join(docs, f"{family}-*.json"))),
                    key=lambda curve: curve["name"], reverse=True)
  curves = [new] + archived + [_read(os.path.join(docs, f"{name}.json")) for name in _OTHERS]
  _write(os.path.join(docs, "bd_table_vs_jpeg-420.json"), bd_table(curves, "jpeg-420"))
  first = f"{family}-{FLAGS.first_date}"
  for path in glob.glob(os.path.join(docs, f"bd_table_vs_{family}-*.json")):
    if not path.endswith(f"{first}.json"):
      os.remove(path)
  by_name = {curve["name"]: curve for curve in curves}
  _write(os.path.join(docs, f"bd_table_vs_{replaced}.json"),
         bd_table([old, new, by_name["webp"], by_name["jpeg-420"]], replaced))
  drawn = [new, old, by_name[first]] + [by_name[name] for name in _OTHERS]
  plots.rd_plot(drawn, sorted(glob.glob(FLAGS.references)), FLAGS.plot, FLAGS.title)
  print(f"{current_path}: {family} replaced; {replaced_path} kept; tables and "
        f"{FLAGS.plot} redrawn")


if __name__ == "__main__":
  app.run(main)
