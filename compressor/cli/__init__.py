"""The `compressor` command: dispatches to one absl program per subcommand."""

import importlib
import os
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


def command_line(*args):
  """The argv that runs `compressor ARGS...` in a fresh process of this Python."""
  return [sys.executable, "-m", "compressor.cli", *map(str, args)]


def _usage():
  lines = ["usage: compressor COMMAND [flags] [args]", "", "commands:"]
  lines += [f"  {name:<11} {text}" for name, (_, text) in COMMANDS.items()]
  lines += ["", "`compressor COMMAND --helpfull` lists a command's flags."]
  return "\n".join(lines)


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
  module = importlib.import_module(COMMANDS[command][0])
  module.run([f"compressor {command}"] + argv[2:])
  return 0
