"""Fuzzes the decoder with atheris: python scripts/fuzz.py --model DIR --runs 100000.

Prints how many inputs it tried and their outcomes (decoded, or the error
class each was refused with), how many reached the range decoder, and the
slowest. Anything else is a finding: libFuzzer stops and writes the input to
crash-*, or to timeout-* for an input slower than --timeout seconds. Needs
`pip install -e '.[fuzz]'`.
"""

import atheris
from absl import app, flags

with atheris.instrument_imports(include=["compressor"]):
  from compressor.coding.store import load_model
  from compressor.coding.zoo import resolve_model_dir
  from compressor.tools import fuzzing

flags.DEFINE_string("model", None, "Model directory or bundled model name.")
flags.DEFINE_integer("runs", 100000, "Inputs to try.")
flags.DEFINE_string("corpus_dir", "fuzz_corpus", "Where the corpus grows.")
flags.DEFINE_integer("timeout", 30, "Seconds one input may take; a slower one is a finding.")
flags.DEFINE_integer("max_len", 4096, "Longest input, in bytes (more reaches more payload).")
FLAGS = flags.FLAGS


def main(argv):
  del argv
  fuzzing.run_atheris(load_model(resolve_model_dir(FLAGS.model)), FLAGS.runs,
                      FLAGS.corpus_dir, FLAGS.timeout, FLAGS.max_len)


if __name__ == "__main__":
  app.run(main)
