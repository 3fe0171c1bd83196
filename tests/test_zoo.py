"""Bundled models: names, families and quality levels, bundling, and --target_bpp."""

import os
import shutil

import numpy as np
import pytest
from PIL import Image

from compressor.coding import codec, store, zoo
from compressor.coding.images import DecodedImage
from compressor.errors import ModelError
from compressor.tools import bundling
from conftest import photo

FAMILY = zoo.DEFAULT_FAMILY


@pytest.fixture
def bundle(tmp_path, monkeypatch, trained_model_dir):
  """A bundled family with levels 1, 2 and 5 (copies of one model) and a lone model."""
  for level in (1, 2, 5):
    shutil.copytree(trained_model_dir, tmp_path / f"{FAMILY}-q{level}")
  shutil.copytree(trained_model_dir, tmp_path / "other")
  os.makedirs(tmp_path / "not-a-model")
  monkeypatch.setattr(zoo, "BUNDLED_DIR", str(tmp_path))
  monkeypatch.setattr(store, "BUNDLED_DIR", str(tmp_path))
  return tmp_path


def test_names_levels_default_and_paths(bundle, trained_model_dir):
  assert list(zoo.bundled_models()) == [f"{FAMILY}-q1", f"{FAMILY}-q2", f"{FAMILY}-q5",
                                        "other"]
  assert list(zoo.quality_levels()) == [1, 2, 5]
  assert zoo.resolve_model_dir() == str(bundle / f"{FAMILY}-q2")  # the middle level
  assert zoo.resolve_model_dir(quality=5) == str(bundle / f"{FAMILY}-q5")
  assert [zoo.default_quality(dict.fromkeys(levels)) for levels in
          ([1], [1, 2], [1, 2, 3], [1, 2, 3, 4], [2, 4, 6, 8, 9])] == [1, 2, 2, 3, 6]
  assert zoo.resolve_model_dir(FAMILY, quality=1) == str(bundle / f"{FAMILY}-q1")
  assert zoo.resolve_model_dir("other") == str(bundle / "other")
  assert zoo.resolve_model_dir(trained_model_dir) == trained_model_dir
  assert zoo.split_level_name("a-b-q12") == ("a-b", 12)
  assert zoo.split_level_name("a-q0") == (None, None)


def test_bad_names_and_levels_are_named(bundle, trained_model_dir):
  with pytest.raises(ModelError, match="has no quality 3; bundled levels: 1, 2, 5"):
    zoo.resolve_model_dir(quality=3)
  with pytest.raises(ModelError, match=f"--quality needs a bundled model family.*{FAMILY}"):
    zoo.resolve_model_dir(trained_model_dir, quality=1)
  with pytest.raises(ModelError, match="neither a model directory nor a bundled model"):
    zoo.resolve_model_dir("nonexistent")


def test_bundled_models_are_searched_for_bitstreams(bundle, trained_model, monkeypatch):
  monkeypatch.delenv(store.SEARCH_PATH_ENV, raising=False)
  found = store.find_model(trained_model.fingerprint, store.model_search_path())
  assert os.path.dirname(found) == str(bundle)


def test_no_bundled_default(tmp_path, monkeypatch):
  monkeypatch.setattr(zoo, "BUNDLED_DIR", str(tmp_path / "missing"))
  with pytest.raises(ModelError, match="bundled: none"):
    zoo.resolve_model_dir()


def test_bundling_halves_weights_and_records_measured_rate(tmp_path, trained_model_dir,
                                                           trained_model, photo_dir):
  # A grayscale photo too: it codes as RGB and decodes as one channel.
  gray = tmp_path / "gray.png"
  Image.fromarray(photo("coffee")[:96, :128]).convert("L").save(gray)
  images = sorted(str(p) for p in photo_dir.glob("*.png"))[:1] + [str(gray)]
  destination = tmp_path / "bundled"
  target, measured = bundling.bundle_model(trained_model_dir, f"{FAMILY}-q1", images,
                                           "two photos", destination=str(destination))
  assert os.listdir(destination) == [f"{FAMILY}-q1"]  # no staging directory left behind
  with np.load(os.path.join(target, store.WEIGHTS_FILE)) as data:
    weights = [k for k in data.files if not k.startswith("coding/")]
    assert {data[k].dtype for k in weights} == {np.dtype(np.float16)}
    assert data["coding/cdf"].dtype == np.int32
  bundled = store.load_model(target)  # the fingerprint check passes
  for name, value in trained_model.named_weights().items():
    np.testing.assert_allclose(bundled.named_weights()[name], value, rtol=1e-3, atol=1e-4)
  # The measured figures are those of real bitstreams of the bundled model.
  image = DecodedImage(photo("astronaut"), "RGB")
  data = codec.compress_image(bundled, image)
  assert np.array_equal(codec.decompress_bytes(data, bundled).pixels,
                        bundled.reconstruct(image.pixels))
  assert measured["images"] == 2 and measured["on"] == "two photos"
  assert 0 < measured["bpp"] < 24 and 10 < measured["psnr"] < 60
  assert bundled.metadata["measured"] == measured
  # The metadata describes the model, not the folders of the machine that bundled it.
  assert not any(isinstance(v, str) and os.sep in v for v in bundled.metadata.values())


class _FakeModel:
  """Stands for a model whose files take `bytes_per_pixel` bytes per pixel."""

  def __init__(self, bytes_per_pixel, name):
    self.bytes_per_pixel, self.model_name = bytes_per_pixel, name


@pytest.mark.parametrize("target, expected", [(0.5, 0), (8.0, 0), (17.0, 1), (24.0, 2),
                                              (31.9, 2), (32.0, 3), (100.0, 6)])
def test_target_bpp_picks_the_highest_rate_that_fits(monkeypatch, target, expected):
  encodes = []
  def fake_compress(model, image, tile_size, effort):
    encodes.append(model.model_name)
    return bytes(model.bytes_per_pixel * image.width * image.height)
  monkeypatch.setattr(codec, "compress_image", fake_compress)
  models = [_FakeModel(b, f"m{i}") for i, b in enumerate((1, 2, 3, 4, 5, 6, 7))]
  data, chosen = codec.compress_to_target(models, DecodedImage(np.zeros((4, 4, 3), np.uint8),
                                                               "RGB"), target)
  assert chosen is models[expected] and len(data) == 16 * models[expected].bytes_per_pixel
  assert len(encodes) <= 4  # binary search: log2(7) + 1 encodes at most
