"""`compressor models`: lists the bundled models; `--add DIR` bundles a trained one."""

import glob

from absl import app, flags

from compressor.cli.common import no_positional, user_errors
from compressor.errors import CompressorError
from compressor.tools.bundling import bundle_model, describe_bundled

flags.DEFINE_string("add", None, "Maintainers: bundle this trained model directory, in half "
                    "precision, measured on --measure_images.")
flags.DEFINE_string("name", None, "Name of the bundled model (FAMILY-qN for a quality level).")
flags.DEFINE_string("measure_images", None, "Glob of images to measure the bundled model on.")
flags.DEFINE_string("measured_on", None, "What to call those images in the listing, "
                    "e.g. CBSD68.")
FLAGS = flags.FLAGS


def _table(rows):
  lines = [f"{'name':34} {'quality':>7} {'lambda':>8} {'total steps':>11} {'MB':>6}  measured"]
  for row in rows:
    measured = row.measured
    measured = (f"{measured['bpp']:.3f} bpp, {measured['psnr']:.2f} dB on {measured['on']} "
                f"({measured['images']} images)") if measured else "not measured"
    lines.append(f"{row.name:34} {row.quality or '-':>7} {row.lmbda or '-':>8} "
                 f"{row.steps or '-':>11} {row.megabytes:6.1f}  {measured}")
  return "\n".join(lines)


@user_errors
def main(argv):
  no_positional(argv)
  if FLAGS.add is not None:
    if not (FLAGS.name and FLAGS.measure_images and FLAGS.measured_on):
      raise app.UsageError("--add needs --name, --measure_images and --measured_on")
    images = sorted(glob.glob(FLAGS.measure_images))
    if not images:
      raise CompressorError(f"no files match {FLAGS.measure_images!r}")
    target, measured = bundle_model(FLAGS.add, FLAGS.name, images, FLAGS.measured_on)
    print(f"bundled {target}: {measured['bpp']:.3f} bpp, {measured['psnr']:.2f} dB")
    return
  rows = describe_bundled()
  if not rows:
    print("no bundled models")
    return
  print(_table(rows))


def run(argv):
  app.run(main, argv=argv)
