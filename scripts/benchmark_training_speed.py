"""Training speed: `compressor train` against a bare loop of the same model, one after the other.

  quick=configs/recipes/quick-cpu.flags
  python scripts/benchmark_training_speed.py --train_glob '../shared/data/train/**/*' \
    --recipe factorized=configs/architectures/bmshj2018-factorized.flags+$quick \
    --recipe mbt2018-mean=configs/architectures/mbt2018-mean.flags+$quick \
    --precisions float32,bfloat16 --threads 0:0,1:1,2:1,1:2 --output_json speed.json

Prints, per recipe and precision, the steps/s of a bare training loop on crops already in
memory (the roofline) and of `compressor train` with its input pipeline, their ratio, and
the GFLOP/s achieved against the float32 matmul rate. Run it alone: each measurement is a
fresh process, and anything else running beside it slows it.
"""

import json

from absl import app, flags

from compressor.fileio import write_text_atomically
from compressor.tools.recipes import DEFAULT_RECIPE, parse_recipe
from compressor.tools.speed import matmul_rate
from compressor.tools.training_speed import benchmark, format_report

flags.DEFINE_multi_string("recipe", [], "NAME=FLAGFILE[+FLAGFILE...] of a training recipe "
                          "(architecture, then recipe); repeat.")
flags.DEFINE_string("train_glob", None, "Training images.")
flags.DEFINE_integer("steps", 100, "Timed steps of every measurement.")
flags.DEFINE_integer("warmup", 20, "Untimed steps first (tracing, decoding the images).")
flags.DEFINE_list("precisions", ["float32"], "Precisions to measure (float32, bfloat16).")
flags.DEFINE_list("threads", ["0:0"], "INTRA:INTER thread settings; the first is used for "
                  "every recipe, all are tried on the first recipe's bare loop (0: default).")
flags.DEFINE_string("output_json", None, "Write the report here as JSON.")
flags.mark_flags_as_required(["train_glob"])
FLAGS = flags.FLAGS


def main(argv):
  del argv
  try:
    recipes = [parse_recipe(r) for r in FLAGS.recipe] or [DEFAULT_RECIPE]
  except ValueError as e:
    raise app.UsageError(str(e)) from None
  try:
    threads = [tuple(int(v) for v in t.split(":")) for t in FLAGS.threads]
  except ValueError:
    raise app.UsageError("--threads takes INTRA:INTER pairs, e.g. 2:1") from None
  report = benchmark(recipes, FLAGS.train_glob, FLAGS.steps, FLAGS.warmup,
                     FLAGS.precisions, threads, matmul_gflops=matmul_rate())
  print(format_report(report))
  if FLAGS.output_json:
    write_text_atomically(FLAGS.output_json, json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
  app.run(main)
