"""The `compressor` command: dispatches to one absl program per subcommand."""

import gc
import importlib
import os
import signal
import sys

__all__ = ["command_line", "main"]

COMMANDS = {
    "train": ("compressor.cli.train", "train a model on a folder of images"),
    "compress": ("compressor.cli.compress", "compress an image to a bitstream file"),
    "decompress": ("compressor.cli.decompress", "decompress a bitstream file to PNG"),
    "models": ("compressor.cli.models", "list the bundled models and their quality levels"),
    "info": ("compressor.cli.info", "what a bitstream file's header says, without decoding it"),
    "evaluate": ("compressor.cli.evaluate", "rate-distortion against JPEG, WebP, AVIF, JPEG 2000"),
    "demo": ("compressor.cli.demo", "compress and decompress a bundled photo, print bpp and PSNR"),
}


# Commands that only print: stopped by a closed pipe, they leave nothing behind.
_READ_ONLY = ("info", "models")


def command_line(*args):
  """The argv that runs `compressor ARGS...` in a fresh process of this Python."""
  return [sys.executable, "-m", "compressor", *map(str, args)]


def _usage():
  lines = ["usage: compressor COMMAND [flags] [args]", "", "commands:"]
  lines += [f"  {name:<11} {text}" for name, (_, text) in COMMANDS.items()]
  lines += ["", "`compressor COMMAND --helpfull` lists a command's flags."]
  return "\n".join(lines)


def _import_command(name):
  """Imports a command's module (and TensorFlow) with the cyclic garbage collector paused.

  Importing TensorFlow creates about half a million long-lived objects, and the collector's
  full passes over them took 0.6-0.7 s of each command (docs/speed.md, "The cold start").
  `gc.freeze` then keeps them out of every later pass; the few thousand unreachable objects
  the imports leave behind are not worth a full pass (0.3 s) to free.
  """
  gc.disable()
  try:
    return importlib.import_module(name)
  finally:
    gc.freeze()
    gc.enable()


def main(argv=None):
  argv = list(sys.argv if argv is None else argv)
  if len(argv) < 2 or argv[1] in ("-h", "--help", "help"):
    print(_usage())
    return 0 if len(argv) >= 2 else 2
  command = argv[1]
  if command not in COMMANDS:
    print(f"compressor: unknown command {command!r}\n\n{_usage()}", file=sys.stderr)
    return 2
  # TensorFlow's C++ start-up chatter would bury the one-line results and errors.
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
  if command in _READ_ONLY and hasattr(signal, "SIGPIPE"):
    # `compressor info *.cmpr | head` ends quietly, as other Unix tools do, rather than
    # with a BrokenPipeError; these commands write no files that a stop could leave half-done.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
  module = _import_command(COMMANDS[command][0])
  module.run([f"compressor {command}"] + argv[2:])
  return 0
