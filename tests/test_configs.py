"""The committed flagfiles: each one parses as `compressor train` flags, values checked."""

import copy
import glob
import os

import pytest
from absl import flags

import compressor.cli.train  # noqa: F401  (defines the train command's flags)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FLAGFILES = sorted(os.path.relpath(path, ROOT)
                   for path in glob.glob(os.path.join(ROOT, "configs", "**", "*.flags"),
                                         recursive=True))


def test_there_are_flagfiles():
  assert any(path.startswith(os.path.join("configs", "families")) for path in FLAGFILES)


@pytest.mark.parametrize("path", FLAGFILES)
def test_flagfile_parses(path, monkeypatch):
  monkeypatch.chdir(ROOT)  # Flagfiles name each other relative to the project's root.
  values = copy.deepcopy(flags.FLAGS)
  values.unparse_flags()
  # An unknown flag or a value outside its enum or bounds raises here.
  values(["compressor train", f"--flagfile={path}", "--model_dir=run", "--train_glob=*.png"])
  if "families" in path and not path.endswith("base.flags"):
    assert values["name"].value.endswith(os.path.splitext(os.path.basename(path))[0])
