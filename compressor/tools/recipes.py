"""Training recipes as benchmarks name them: NAME=FLAGFILE[+FLAGFILE...], e.g. an
architecture's flagfile and a training recipe's, read in that order as `compressor train`
reads repeated --flagfile flags."""

__all__ = ["DEFAULT_RECIPE", "flagfile_args", "parse_recipe"]

DEFAULT_RECIPE = ("quick-cpu", ("configs/architectures/bmshj2018-factorized.flags",
                                "configs/recipes/quick-cpu.flags"))


def parse_recipe(spec):
  """(name, flagfiles) of NAME=FLAGFILE[+FLAGFILE...]; ValueError naming the problem."""
  name, sep, files = spec.partition("=")
  flagfiles = tuple(f for f in files.split("+") if f)
  if not sep or not name or not flagfiles:
    raise ValueError(f"recipe {spec!r} is not NAME=FLAGFILE[+FLAGFILE...]")
  return name, flagfiles


def flagfile_args(flagfiles):
  """The `compressor train` arguments that read a recipe's flagfiles."""
  return [f"--flagfile={flagfile}" for flagfile in flagfiles]
