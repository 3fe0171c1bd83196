"""Bundled models are found by name, and the default is used when none is given."""

import os
import shutil

import pytest

from compressor import store, zoo
from compressor.errors import ModelError


@pytest.fixture
def bundle(tmp_path, monkeypatch, trained_model_dir):
  shutil.copytree(trained_model_dir, tmp_path / zoo.DEFAULT_MODEL)
  shutil.copytree(trained_model_dir, tmp_path / "other")
  os.makedirs(tmp_path / "not-a-model")
  monkeypatch.setattr(zoo, "BUNDLED_DIR", str(tmp_path))
  monkeypatch.setattr(store, "BUNDLED_DIR", str(tmp_path))
  return tmp_path


def test_names_default_and_paths(bundle, trained_model_dir):
  assert list(zoo.bundled_models()) == [zoo.DEFAULT_MODEL, "other"]
  assert zoo.resolve_model_dir() == str(bundle / zoo.DEFAULT_MODEL)
  assert zoo.resolve_model_dir("other") == str(bundle / "other")
  assert zoo.resolve_model_dir(trained_model_dir) == trained_model_dir
  with pytest.raises(ModelError, match=f"bundled: {zoo.DEFAULT_MODEL}, other"):
    zoo.resolve_model_dir("nonexistent")


def test_bundled_models_are_searched_for_bitstreams(bundle, trained_model, monkeypatch):
  monkeypatch.delenv(store.SEARCH_PATH_ENV, raising=False)
  found = store.find_model(trained_model.fingerprint, store.model_search_path())
  assert os.path.dirname(found) == str(bundle)


def test_no_bundled_default(tmp_path, monkeypatch):
  monkeypatch.setattr(zoo, "BUNDLED_DIR", str(tmp_path / "missing"))
  with pytest.raises(ModelError, match="bundled: none"):
    zoo.resolve_model_dir()
