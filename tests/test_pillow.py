"""The Pillow plugin, through Pillow's public API only: Image.open, save, load, getbands, size."""

import dataclasses
import io
import os
import warnings

import numpy as np
import pytest
from PIL import Image

import compressor
import compressor.pillow  # registers the format
from compressor.coding import container
from compressor.errors import BitstreamError, CompressorError, ModelError
from conftest import random_image


@pytest.fixture(autouse=True)
def installed(seeded_model_dir, monkeypatch):
  """The seeded model is installed where Image.open's load() looks for it."""
  monkeypatch.setenv("COMPRESSOR_MODEL_PATH", os.path.dirname(seeded_model_dir))


def test_registered():
  assert Image.registered_extensions()[".cmpr"] == "CMPR"


@pytest.mark.parametrize("channels, mode, bands", [(1, "L", ("L",)), (2, "LA", ("L", "A")),
                                                   (3, "RGB", ("R", "G", "B")),
                                                   (4, "RGBA", ("R", "G", "B", "A"))])
def test_save_then_open(seeded_model_dir, tmp_path, channels, mode, bands):
  pixels = random_image(21, 34, channels=channels, seed=channels)
  original = Image.fromarray(pixels[:, :, 0] if channels == 1 else pixels)
  path = tmp_path / "photo.cmpr"
  with warnings.catch_warnings():
    # The codec's own modes need no conversion, hence no warning.
    warnings.simplefilter("error", compressor.CompressorWarning)
    original.save(path, model=seeded_model_dir)
  with Image.open(path) as image:
    assert image.format == "CMPR" and image.get_format_mimetype() == "image/x-compressor"
    assert image.size == (34, 21) and image.mode == mode and image.getbands() == bands
    image.load()
    loaded = np.asarray(image)
  np.testing.assert_array_equal(loaded, np.asarray(compressor.decode(path.read_bytes())))
  if mode.endswith("A"):  # alpha survives exactly
    np.testing.assert_array_equal(loaded[:, :, -1], pixels[:, :, -1])


def test_open_reads_the_header_and_load_decodes(seeded_model_dir, tmp_path):
  path = tmp_path / "photo.cmpr"
  Image.fromarray(random_image(16, 24, channels=4)).save(path, model=seeded_model_dir)
  # The same file made by a model installed nowhere...
  header, payloads = container.unpack(path.read_bytes())
  path.write_bytes(container.pack(dataclasses.replace(header, fingerprint=bytes(16)), payloads))
  # ...still opens, since open decodes nothing...
  with Image.open(path) as image:
    assert (image.size, image.mode) == ((24, 16), "RGBA")
    # ...and load() decodes, so that is where the missing model shows.
    with pytest.raises(ModelError, match="not installed"):
      image.load()


def test_save_options(seeded_model_dir, tmp_path):
  path = tmp_path / "photo.cmpr"
  image = Image.fromarray(random_image(16, 16))
  # A quality level needs a family; the failed save leaves no file behind.
  with pytest.raises(ModelError, match="quality"):
    image.save(path, model=compressor.load_model(seeded_model_dir), quality=2)
  assert not path.exists()
  with pytest.warns(compressor.CompressorWarning, match="nothing fits in 0.01 bpp"):
    image.save(path, model=[seeded_model_dir], target_bpp=0.01)
  assert compressor.read_header(path.read_bytes()).model_name == "tiny"
  # effort reaches the encoder (test_api codes at effort 1; here its check is quicker).
  with pytest.raises(CompressorError, match="effort 9"):
    image.save(io.BytesIO(), format="CMPR", model=seeded_model_dir, effort=9)
  buffer = io.BytesIO()
  image.save(buffer, format="CMPR", model=seeded_model_dir)
  with Image.open(io.BytesIO(buffer.getvalue())) as reopened:
    assert reopened.size == (16, 16)
    assert np.asarray(reopened).shape == (16, 16, 3)


def test_other_modes_are_converted_with_a_warning(seeded_model_dir, tmp_path):
  path = tmp_path / "photo.cmpr"
  cmyk = Image.fromarray(random_image(12, 12)).convert("CMYK")
  with pytest.warns(compressor.CompressorWarning, match="CMYK image converted to RGB") as caught:
    cmyk.save(path, model=seeded_model_dir)
  # The warning points at the save call, not into Pillow or the plugin.
  assert [w.filename for w in caught if w.category is compressor.CompressorWarning] == [__file__]
  with Image.open(path) as image:
    assert image.mode == "RGB"
  palette = Image.fromarray(random_image(12, 12)).convert("P")
  palette.info["transparency"] = palette.getpixel((0, 0))
  with pytest.warns(compressor.CompressorWarning, match="palette image converted to RGBA"):
    palette.save(path, model=seeded_model_dir)
  with Image.open(path) as image:
    assert image.mode == "RGBA"


def test_a_damaged_file_is_refused_at_open(seeded_model_dir, tmp_path):
  path = tmp_path / "photo.cmpr"
  Image.fromarray(random_image(12, 12)).save(path, model=seeded_model_dir)
  path.write_bytes(path.read_bytes()[:-1])
  with pytest.raises(BitstreamError, match="truncated"):
    Image.open(path)
