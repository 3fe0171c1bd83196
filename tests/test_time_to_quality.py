"""Time-to-quality: the matched-bpp comparison, and two recipes trained one after the other."""

import json
import os

import numpy as np
import pytest
from PIL import Image

from compressor.errors import CompressorError
from compressor.tools.recipes import flagfile_args, parse_recipe
from compressor.tools.time_to_quality import compare_recipes, gain_over_anchor
from conftest import photo

ANCHOR = {"bpp": [0.25, 0.5, 1.0, 2.0], "psnr-rgb": [26.0, 28.0, 31.0, 35.0]}


def test_gain_is_measured_against_the_anchor_at_the_same_rate():
  assert gain_over_anchor({"bpp": 0.5, "psnr-rgb": 29.5}, ANCHOR) == pytest.approx(1.5)
  # Halfway in log-rate between 0.5 and 1.0 bpp the anchor is at 29.5 dB.
  assert gain_over_anchor({"bpp": np.sqrt(0.5), "psnr-rgb": 29.0}, ANCHOR) == \
      pytest.approx(-0.5)
  assert gain_over_anchor({"bpp": 0.1, "psnr-rgb": 40.0}, ANCHOR) is None
  assert gain_over_anchor({"bpp": 3.0, "psnr-rgb": 20.0}, ANCHOR) is None


def test_two_recipes_train_in_turn_and_are_measured(photo_dir, tmp_path):
  common = ["--architecture=factorized", "--num_filters=16", "--latent_channels=16",
            "--kernel_sizes=5,5,5,5", "--strides=2,2,2,2", "--patchsize=64",
            "--batchsize=2", "--log_every=5", "--checkpoint_every=1000"]
  # An architecture's flagfile and each recipe's, read in turn as repeated --flagfile.
  architecture = tmp_path / "tiny.flags"
  architecture.write_text("\n".join(common + ["--learning_rate=1"]) + "\n")
  recipes = []
  for name, rate in (("slow", "1e-5"), ("fast", "1e-3")):
    flagfile = tmp_path / f"{name}.flags"
    flagfile.write_text(f"--learning_rate={rate}\n")
    recipes.append(parse_recipe(f"{name}={architecture}+{flagfile}"))
  images = []
  for name in ("coffee", "chelsea"):
    images.append(str(tmp_path / f"{name}.png"))
    Image.fromarray(photo(name)[:96, :128]).save(images[-1])
  out = tmp_path / "ttq"
  report = compare_recipes(recipes, 0.15, str(photo_dir / "*.png"), images, str(out))
  assert [r["recipe"] for r in report] == ["slow", "fast"]
  for r in report:
    assert r["steps"] > 0  # each trained, was stopped by the budget and exported
    assert os.path.exists(out / r["recipe"] / "model.json")
    assert 0 < r["bpp"] < 24 and 5 < r["psnr"] < 60
  assert json.load(open(out / "time_to_quality.json")) == report
  # The later flagfile's learning rate won over the architecture file's.
  for r, rate in zip(report, (1e-5, 1e-3)):
    with open(out / r["recipe"] / "train_config.json") as f:
      assert json.load(f)["training"]["learning_rate"] == rate
  assert os.path.exists(out / "evaluation" / "rd.png")


def test_a_failed_recipe_is_named_with_its_log(photo_dir, tmp_path):
  broken = tmp_path / "broken.flags"
  broken.write_text("--num_filters=notanumber\n")
  with pytest.raises(CompressorError, match=r"training broken failed; see .*broken\.log"):
    compare_recipes([("broken", (str(broken),))], 0.05, str(photo_dir / "*.png"), [],
                    str(tmp_path))


def test_recipes_name_their_flagfiles():
  assert parse_recipe("quick=a.flags+b.flags") == ("quick", ("a.flags", "b.flags"))
  assert parse_recipe("one=a.flags") == ("one", ("a.flags",))
  assert flagfile_args(("a.flags", "b.flags")) == ["--flagfile=a.flags", "--flagfile=b.flags"]
  for bad in ("a.flags", "=a.flags", "name=", "name=+"):
    with pytest.raises(ValueError, match="is not NAME=FLAGFILE"):
      parse_recipe(bad)
