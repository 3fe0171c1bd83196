"""Saved models: self-describing directories with fingerprints that bitstreams name."""

import json
import os
import shutil

import numpy as np
import pytest

from compressor.coding.store import find_model, fingerprint, load_model, save_model
from compressor.errors import ModelError
from conftest import random_image


def test_save_load_round_trip_decodes_identically(untrained_model, tmp_path):
  save_model(untrained_model, str(tmp_path / "m"), "round-trip", {"note": 1})
  loaded = load_model(str(tmp_path / "m"))
  assert loaded.model_name == "round-trip" and loaded.metadata == {"note": 1}
  assert loaded.config == untrained_model.config
  image = random_image(40, 24)
  strings, shapes = untrained_model.encode(image)
  np.testing.assert_array_equal(loaded.decode(strings, shapes, 40, 24),
                                untrained_model.decode(strings, shapes, 40, 24))
  assert loaded.encode(image)[0] == strings


def test_fingerprint_covers_config_and_every_weight(untrained_model):
  arrays = untrained_model.named_weights()
  reference = fingerprint(untrained_model.config, arrays)
  assert len(reference) == 16
  assert fingerprint(untrained_model.config, dict(arrays)) == reference
  for name in list(arrays)[::7]:
    changed = dict(arrays)
    changed[name] = arrays[name].copy()
    changed[name].flat[0] += 1e-7 if changed[name].dtype.kind == "f" else 1
    assert fingerprint(untrained_model.config, changed) != reference
  other_config = untrained_model.config.__class__(
      **{**untrained_model.config.to_dict(), "num_filters": 17})
  assert fingerprint(other_config, arrays) != reference


def test_tampered_weights_are_refused(trained_model_dir, tmp_path):
  copy = tmp_path / "copy"
  shutil.copytree(trained_model_dir, copy)
  with np.load(copy / "weights.npz") as data:
    arrays = {k: data[k] for k in data.files}
  arrays["analysis/000"] = arrays["analysis/000"] * 1.01
  np.savez(copy / "weights.npz", **arrays)
  with pytest.raises(ModelError, match="do not match the fingerprint"):
    load_model(str(copy))


@pytest.mark.parametrize("damage,message", [
    (lambda d: os.remove(d / "model.json"), "not a model directory"),
    (lambda d: os.remove(d / "weights.npz"), "has no weights.npz"),
    (lambda d: (d / "model.json").write_text("{"), "cannot read"),
    (lambda d: (d / "model.json").write_text(json.dumps(
        {"format": "compressor-model", "format_version": 99})), "format version 99"),
])
def test_broken_model_directories(trained_model_dir, tmp_path, damage, message):
  copy = tmp_path / "copy"
  shutil.copytree(trained_model_dir, copy)
  damage(copy)
  with pytest.raises(ModelError, match=message):
    load_model(str(copy))


def test_missing_model_directory(tmp_path):
  with pytest.raises(ModelError, match="does not exist"):
    load_model(str(tmp_path / "nope"))


def test_find_model_by_fingerprint(trained_model, trained_model_dir, tmp_path):
  parent = os.path.dirname(trained_model_dir)
  assert find_model(trained_model.fingerprint, [parent]) == trained_model_dir
  assert find_model(trained_model.fingerprint, [trained_model_dir]) == trained_model_dir
  assert find_model(bytes(16), [parent, str(tmp_path)]) is None
