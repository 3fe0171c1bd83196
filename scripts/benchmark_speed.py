"""Coding speed on this machine, next to JPEG, WebP and AVIF and to the hardware's FLOP bound.

  python scripts/benchmark_speed.py --repeats 5 --output_json speed.json
  git worktree add /tmp/old HEAD~1 && python scripts/benchmark_speed.py --sizes 768x512 \
    --cold_repeats 7 --baseline_checkout /tmp/old   # the cold start before and after

Prints warm encode and decode times of the model and of Pillow's codecs for a 768x512 and a
16-megapixel image (scikit-image's astronaut, mirrored out to those sizes), the transforms'
FLOPs and the time they take at this machine's matrix-multiply rate, and the cold start of
`compressor compress` and `decompress` (wall and CPU seconds).
"""

import json

from absl import app, flags, logging

from compressor.cli.common import user_errors
from compressor.coding.zoo import DEFAULT_FAMILY, resolve_model_dir
from compressor.tools.speed import (
  DEFAULT_SIZES,
  benchmark,
  benchmark_images,
  format_report,
  parse_size,
)

flags.DEFINE_string("model", None, "Model directory, bundled model name or bundled family "
                    f"(default: {DEFAULT_FAMILY}).")
flags.DEFINE_list("sizes", [f"{w}x{h}" for w, h in DEFAULT_SIZES],
                  "WIDTHxHEIGHT of the astronaut images.")
flags.DEFINE_string("images", None, "Glob of images to time instead, each at its own size.")
flags.DEFINE_integer("repeats", 5, "Timed runs per measurement (the median is reported).",
                     lower_bound=1)
flags.DEFINE_integer("cold_repeats", 3, "Fresh processes for the cold start.", lower_bound=1)
flags.DEFINE_string("baseline_checkout", None, "A directory holding another version of the "
                    "compressor package (e.g. a `git worktree` of an earlier commit): its "
                    "commands' cold start is timed too, interleaved with this one's.")
flags.DEFINE_integer("matmul_size", 2048, "Side of the matrices of the matmul rate.",
                     lower_bound=1)
flags.DEFINE_string("output_json", None, "Also write the figures here.")
FLAGS = flags.FLAGS


@user_errors
def main(argv):
  del argv
  logging.set_verbosity(logging.INFO)
  images = benchmark_images([parse_size(s) for s in FLAGS.sizes], FLAGS.images)
  report = benchmark(resolve_model_dir(FLAGS.model), images, FLAGS.repeats,
                     FLAGS.matmul_size, FLAGS.cold_repeats, FLAGS.baseline_checkout)
  print("\n".join(format_report(report)))
  if FLAGS.output_json:
    with open(FLAGS.output_json, "w") as f:
      json.dump(report, f, indent=2)


if __name__ == "__main__":
  app.run(main)
