"""Coding speed on this machine: warm coding times, Pillow's codecs, and the FLOP bound."""

import glob
import os
import sys
import tempfile
import time

import numpy as np
import PIL
import tensorflow as tf
from absl import logging
from PIL import Image

from compressor.cli import command_line
from compressor.coding.codec import compress_image, decompress_bytes
from compressor.coding.images import DecodedImage, read_image, split_alpha
from compressor.coding.store import load_model
from compressor.errors import CompressorError
from compressor.evaluation.classical import codec_by_name
from compressor.nn.config import ceil_div
from compressor.tools.scaling import measure_command, mirrored_to_size

__all__ = [
    "CLASSICAL",
    "DEFAULT_SIZES",
    "benchmark",
    "benchmark_images",
    "format_report",
    "matmul_rate",
    "parse_size",
    "tracing_counts",
    "transform_flops",
]

# A Kodak-sized photo and a 16-megapixel one (a 4:3 camera's).
DEFAULT_SIZES = ((768, 512), (4608, 3456))
# (codec of compressor.evaluation.classical, quality): Pillow's codecs as `compressor evaluate`
# runs them.
CLASSICAL = (("jpeg-420", 75), ("webp", 75), ("avif", 75))
# Normalizations that mix channels at every position, with a 1x1 convolution.
_GDN = ("gdn", "gdn-sqrt")


def parse_size(text):
  """(width, height) of "WIDTHxHEIGHT"."""
  width, sep, height = text.lower().partition("x")
  if not (sep and width.isdigit() and height.isdigit() and int(width) and int(height)):
    raise CompressorError(f"a size is WIDTHxHEIGHT, e.g. 768x512, not {text!r}")
  return int(width), int(height)


def transform_flops(config, height, width):
  """FLOPs (a multiply-add is 2) of the analysis and synthesis transforms for one image.

  As tfc.SignalConv2D computes them on the padded image: a downsampling
  correlation (tf.nn.conv2d with strides) costs 2 k^2 C_in C_out per output
  position; an upsampling convolution (tf.nn.conv2d_transpose) spreads every
  input position over a k x k window, 2 k^2 C_in C_out per input position.
  GDN and IGDN mix channels with a 1x1 convolution, 2 C^2 per position.
  Biases, other elementwise operations, the hyperprior transforms and range
  coding are left out, so the count is a lower bound on the work.
  Returns {"analysis": ..., "synthesis": ...}.
  """
  factor = config.downsampling
  positions = ceil_div(height, factor) * factor * ceil_div(width, factor) * factor
  last = len(config.strides) - 1
  channels = [3] + [config.num_filters] * last + [config.latent_channels]
  gdn = config.normalization in _GDN
  analysis = 0
  for i, (kernel, stride) in enumerate(zip(config.kernel_sizes, config.strides)):
    positions //= stride * stride  # exact: the image is padded to the total stride
    analysis += 2 * kernel * kernel * channels[i] * channels[i + 1] * positions
    if gdn and i < last:
      analysis += 2 * channels[i + 1] ** 2 * positions
  synthesis = 0
  stages = list(zip(config.kernel_sizes, config.strides))[::-1]
  channels = channels[::-1]
  for i, (kernel, stride) in enumerate(stages):
    synthesis += 2 * kernel * kernel * channels[i] * channels[i + 1] * positions
    positions *= stride * stride
    if gdn and i < last:
      synthesis += 2 * channels[i + 1] ** 2 * positions
  return {"analysis": analysis, "synthesis": synthesis}


def _median_time(function, repeats):
  """(first result, median seconds of `repeats` calls after it); the first is untimed."""
  result = function()
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    function()
    times.append(time.perf_counter() - start)
  return result, float(np.median(times))


def matmul_rate(size=2048, repeats=5):
  """Median float32 GFLOP/s of a size x size matrix product, with TensorFlow's default threads."""
  a = tf.random.stateless_uniform((size, size), seed=(1, 2))
  b = tf.random.stateless_uniform((size, size), seed=(3, 4))
  # Summed in the graph, so the timing does not include copying the product out.
  product = tf.function(lambda a, b: tf.reduce_sum(tf.linalg.matmul(a, b)))
  _, seconds = _median_time(lambda: product(a, b).numpy(), repeats)
  return 2.0 * size ** 3 / seconds / 1e9


def benchmark_images(sizes=DEFAULT_SIZES, pattern=None):
  """[(name, RGB pixels)]: the files matching `pattern` as they are, else astronaut at `sizes`."""
  if pattern:
    paths = sorted(glob.glob(pattern))
    if not paths:
      raise CompressorError(f"no files match {pattern!r}")
    return [(os.path.basename(p), split_alpha(read_image(p))[0]) for p in paths]
  try:
    import skimage.data
  except ImportError:
    raise CompressorError(
        "the default photo comes from scikit-image: pip install 'compressor[demo]'") from None
  photo = np.asarray(skimage.data.astronaut())
  return [(f"astronaut-{w}x{h}", mirrored_to_size(photo, w, h)) for w, h in sizes]


def tracing_counts(model):
  """How often each of the model's tf.functions has been traced; over 1 means retraced."""
  names = {name for cls in type(model).__mro__ for name, value in vars(cls).items()
           if isinstance(value, tf.types.experimental.GenericFunction)}
  return {name: getattr(model, name).experimental_get_tracing_count() for name in sorted(names)}


def _time_codecs(model, pixels, repeats):
  """Warm bpp, encode and decode seconds of the model and of each CLASSICAL codec."""
  bits = 8.0 / (pixels.shape[0] * pixels.shape[1])
  image = DecodedImage(pixels, "RGB")
  data, encode = _median_time(lambda: compress_image(model, image), repeats)
  _, decode = _median_time(lambda: decompress_bytes(data, model), repeats)
  results = {"compressor": dict(bpp=bits * len(data), encode_seconds=encode,
                                decode_seconds=decode)}
  for name, quality in CLASSICAL:
    codec = codec_by_name(name)
    # Each lambda is called within its own iteration.
    data, encode = _median_time(lambda: codec.encode(pixels, quality), repeats)  # noqa: B023
    _, decode = _median_time(lambda: codec.decode(data), repeats)  # noqa: B023
    results[f"{name} q{quality}"] = dict(bpp=bits * len(data), encode_seconds=encode,
                                         decode_seconds=decode)
  return results


def _cold_start(model_dir, pixels, repeats, baseline_checkout=None):
  """Medians of wall and CPU seconds of compress and decompress in fresh processes, and of the
  imports alone; with `baseline_checkout`, of the commands with that checkout's code too.

  Interleaved, so that what else the machine does weighs on all alike. The imports are
  TensorFlow's and tensorflow-compression's, which any command needs; the rest of a command's
  time is the codec's own. The bare imports are timed twice: as a whole process, and ending in
  `os._exit`, without the interpreter's teardown, which after these imports alone takes most
  of a second here but which a command pays far less of (docs/speed.md). Every process starts
  in a temporary directory: Python puts the working directory first on the import path, which
  would let a checkout there stand in for the baseline.
  """
  imports = "import tensorflow, tensorflow_compression"
  model_dir = os.path.abspath(model_dir)  # the processes start elsewhere
  with tempfile.TemporaryDirectory() as directory:
    path = os.path.join(directory, "image.png")
    Image.fromarray(pixels).save(path)
    runs = {  # name: (command, extra environment)
        "import": ([sys.executable, "-c", imports], None),
        "import_without_teardown": ([sys.executable, "-c", f"{imports}, os; os._exit(0)"], None),
    }
    codes = {"": None}
    if baseline_checkout is not None:
      codes["baseline_"] = {"PYTHONPATH": os.path.abspath(baseline_checkout)}
    for prefix, env in codes.items():
      coded = os.path.join(directory, f"{prefix}image.cmpr")
      runs[f"{prefix}compress"] = (command_line("compress", "--overwrite", "--model", model_dir,
                                                path, coded), env)
      runs[f"{prefix}decompress"] = (command_line("decompress", "--overwrite", "--model",
                                                  model_dir, coded, coded + ".png"), env)
    measured = {name: [] for name in runs}
    for _ in range(repeats):
      for name, (command, env) in runs.items():
        measured[name].append(measure_command(command, env=env, cwd=directory))
  medians = {}
  for name, values in measured.items():
    medians[f"{name}_seconds"] = float(np.median([run.seconds for run in values]))
    medians[f"{name}_cpu_seconds"] = float(np.median([run.cpu_seconds for run in values]))
  return medians


def benchmark(model_dir, images, repeats=5, matmul_size=2048, cold_repeats=3,
              baseline_checkout=None):
  """Measures everything the speed report shows; returns it as a JSON-ready dict.

  Every time is the median of `repeats` runs after an untimed one, which
  traces the model's graphs on the first image and warms caches on the others.
  The cold start (`cold_repeats` fresh processes) codes the first image, also
  with the code of `baseline_checkout` (a directory holding the compressor
  package, e.g. a `git worktree` of an earlier commit) if given.
  """
  if baseline_checkout is not None and not os.path.isfile(
      os.path.join(baseline_checkout, "compressor", "__init__.py")):
    raise CompressorError(f"baseline checkout {baseline_checkout} holds no compressor package")
  load_average = os.getloadavg()[0]
  model = load_model(model_dir)
  rate = matmul_rate(matmul_size, repeats)
  rows = []
  for name, pixels in images:
    height, width = pixels.shape[:2]
    logging.info("timing %s (%dx%d)", name, width, height)
    codecs = _time_codecs(model, pixels, repeats)
    flops = transform_flops(model.config, height, width)
    flops = {"encode": flops["analysis"], "decode": flops["synthesis"]}
    bound = {k: v / (rate * 1e9) for k, v in flops.items()}
    measured = {k: codecs["compressor"][f"{k}_seconds"] for k in flops}
    rows.append(dict(name=name, width=width, height=height, codecs=codecs, flops=flops,
                     bound_seconds=bound,
                     measured_over_bound={k: measured[k] / bound[k] for k in flops}))
  counts = tracing_counts(model)
  logging.info("cold start: %d fresh processes", cold_repeats)
  cold = _cold_start(model_dir, images[0][1], cold_repeats, baseline_checkout)
  return dict(
      model=dict(name=model.model_name, fingerprint=model.fingerprint.hex(),
                 config=model.config.to_dict()),
      machine=dict(cpus=os.cpu_count(), load_average=load_average,
                   tensorflow=tf.__version__, pillow=PIL.__version__),
      repeats=repeats,
      matmul=dict(size=matmul_size, gflops=rate),
      images=rows,
      tracing_counts=counts,
      retraced=any(count > 1 for count in counts.values()),
      cold_start=dict(image=images[0][0], repeats=cold_repeats,
                      baseline_checkout=baseline_checkout, **cold,
                      warm_encode_seconds=rows[0]["codecs"]["compressor"]["encode_seconds"],
                      warm_decode_seconds=rows[0]["codecs"]["compressor"]["decode_seconds"]))


def format_report(report):
  """The report as markdown tables, one line per string."""
  machine, matmul = report["machine"], report["matmul"]
  lines = [f"model {report['model']['name']}; {machine['cpus']} CPUs, load average "
           f"{machine['load_average']:.1f} at the start; medians of {report['repeats']} warm "
           "runs", "",
           "| image | codec | bpp | encode (s) | decode (s) |", "| --- | --- | --- | --- | --- |"]
  for row in report["images"]:
    for codec, r in row["codecs"].items():
      lines.append(f"| {row['name']} | {codec} | {r['bpp']:.3f} | {r['encode_seconds']:.3g} "
                   f"| {r['decode_seconds']:.3g} |")
  lines += ["", f"Bound: the transforms' FLOPs at the float32 matmul rate, "
            f"{matmul['gflops']:.1f} GFLOP/s ({matmul['size']}x{matmul['size']}).", "",
            "| image | step | GFLOP | bound (s) | measured (s) | measured / bound |",
            "| --- | --- | --- | --- | --- | --- |"]
  for row in report["images"]:
    for step, transform in (("encode", "analysis"), ("decode", "synthesis")):
      measured = row["codecs"]["compressor"][f"{step}_seconds"]
      lines.append(f"| {row['name']} | {step} ({transform}) | {row['flops'][step] / 1e9:.1f} "
                   f"| {row['bound_seconds'][step]:.3g} | {measured:.3g} "
                   f"| {row['measured_over_bound'][step]:.1f} |")
  cold = report["cold_start"]
  traced = ", ".join(f"{k} {v}" for k, v in report["tracing_counts"].items() if v)
  lines += ["", f"Cold start on {cold['image']} (median of {cold['repeats']} fresh processes):",
            "", "| | wall (s) | CPU (s) |", "| --- | --- | --- |"]
  rows = (("import", "`import tensorflow, tensorflow_compression`"),
          ("import_without_teardown", "the same, ending in `os._exit(0)`"),
          ("compress", "`compressor compress`: imports, model load, first trace, coding"),
          ("decompress", "`compressor decompress`: the same, decoding and writing the PNG"))
  if cold["baseline_checkout"] is not None:
    rows += (("baseline_compress", f"`compressor compress` of {cold['baseline_checkout']}"),
             ("baseline_decompress", f"`compressor decompress` of {cold['baseline_checkout']}"))
  for name, text in rows:
    wall, cpu = cold[f"{name}_seconds"], cold[f"{name}_cpu_seconds"]
    # A command's own cost: beyond the bare imports' whole process.
    if name.endswith("compress"):
      wall_text = f"{wall:.2f} ({wall - cold['import_seconds']:+.2f})"
      cpu_text = f"{cpu:.2f} ({cpu - cold['import_cpu_seconds']:+.2f})"
    else:
      wall_text, cpu_text = f"{wall:.2f}", f"{cpu:.2f}"
    lines.append(f"| {text} | {wall_text} | {cpu_text} |")
  lines += [f"| warm encode, decode | {cold['warm_encode_seconds']:.3g}, "
            f"{cold['warm_decode_seconds']:.3g} | |", "",
            f"Graphs traced: {traced}" + (" (RETRACED)" if report["retraced"] else
                                           " (once each, for every image size)")]
  return lines
