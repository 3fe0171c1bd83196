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


@pytest.mark.parametrize("family,architecture", [("mbt2018-mean", "mean-scale-hyperprior"),
                                                 ("bmshj2018-hyperprior", "hyperprior")])
def test_hyperprior_from_a_factorized_level(family, architecture, monkeypatch):
  # As scripts/ab_hyper_synthesis.sh combines them: the level's flagfile, then the hyperprior's.
  monkeypatch.chdir(ROOT)
  values = copy.deepcopy(flags.FLAGS)
  values.unparse_flags()
  values(["compressor train", "--flagfile=configs/families/bmshj2018-factorized/q2.flags",
          f"--flagfile=configs/families/{family}/from-factorized.flags",
          "--model_dir=run", "--train_glob=*.png"])
  assert values["architecture"].value == architecture
  # The factorized level's transforms: 128 latent channels, not the architecture's 192.
  assert values["latent_channels"].value == 128
  assert values["init_parts"].value == ["analysis", "synthesis"]
  # The level's lambda and recipe; twice its learning rate, for the fresh parts.
  assert values["lambda"].value == 0.0019
  assert values["quantization"].value == "mixed"
  assert values["learning_rate"].value == 2e-4
