"""Large-image benchmark: time and peak memory of compress and decompress from 1 to 100+ MP.

  python scripts/benchmark_large_images.py --megapixels 1,16,64,100 --untiled_up_to 16 \
    --output_dir runs/large

Each run is a fresh `compressor compress` / `decompress` process on a photo built from
scikit-image's astronaut; prints seconds and peak resident memory per size, and writes
scaling.json and scaling.png.
"""

import json
import os

from absl import app, flags

from compressor.evaluation.plots import scaling_plot
from compressor.tools.scaling import measure_sizes

flags.DEFINE_list("megapixels", ["1", "16", "64", "100"], "Image sizes in megapixels.")
flags.DEFINE_float("untiled_up_to", 16.0, "Also run without tiles up to this size.")
flags.DEFINE_integer("tile_size", None, "--tile_size for the tiled runs (default: the CLI's).")
flags.DEFINE_string("model", None, "Model directory or bundled name (default: the default).")
flags.DEFINE_string("output_dir", "large_images", "Where the photos, JSON and plot go.")
FLAGS = flags.FLAGS


def main(argv):
  del argv
  import skimage.data
  sizes = [float(m) for m in FLAGS.megapixels]
  rows = measure_sizes(sizes, skimage.data.astronaut(), FLAGS.output_dir, model=FLAGS.model,
                       tile_size=FLAGS.tile_size, untiled_up_to=FLAGS.untiled_up_to)
  with open(os.path.join(FLAGS.output_dir, "scaling.json"), "w") as f:
    json.dump(rows, f, indent=1)
  scaling_plot(rows, os.path.join(FLAGS.output_dir, "scaling.png"))
  print(f"{'MP':>7} {'tiles':>5} {'bpp':>6} {'enc s':>7} {'s/MP':>6} {'enc GiB':>8} "
        f"{'dec s':>7} {'s/MP':>6} {'dec GiB':>8}")
  for r in rows:
    print(f"{r['megapixels']:7.1f} {'yes' if r['tiled'] else 'no':>5} {r['bpp']:6.3f} "
          f"{r['encode_seconds']:7.1f} {r['encode_seconds'] / r['megapixels']:6.2f} "
          f"{r['encode_peak_bytes'] / 2**30:8.2f} {r['decode_seconds']:7.1f} "
          f"{r['decode_seconds'] / r['megapixels']:6.2f} {r['decode_peak_bytes'] / 2**30:8.2f}")


if __name__ == "__main__":
  app.run(main)
