"""The band-wise PNG writer: Pillow's PNG, whatever the bands, and no file from a failed decode."""

import io
import os
import struct
import zlib

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from compressor.coding import codec
from compressor.coding.images import DecodedImage, from_pixels, write_png, write_png_rows
from compressor.coding.pngstream import write_png_bands
from compressor.errors import BitstreamError
from compressor.nn.registry import create_model
from conftest import TINY, photo

LAYOUTS = ["L", "LA", "RGB", "RGBA"]


def pixels_of(layout, height=300, width=97):
  """Photo content in a layout, with a non-trivial alpha where there is one."""
  rgb = np.ascontiguousarray(photo("astronaut")[:height, 5:5 + width])
  gray = rgb[:, :, :1]
  alpha = rgb[:, :, 2:3] // 2 + 64
  return {"L": gray, "LA": np.concatenate([gray, alpha], 2), "RGB": rgb,
          "RGBA": np.concatenate([rgb, alpha], 2)}[layout]


def pillow_png(pixels):
  buffer = io.BytesIO()
  Image.fromarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels).save(buffer, format="PNG")
  return buffer.getvalue()


def banded_png(pixels, heights):
  bands, top = [], 0
  for height in heights:
    bands.append(pixels[top:top + height])
    top += height
  buffer = io.BytesIO()
  write_png_bands(buffer, pixels.shape[1], pixels.shape[0], len_to_layout(pixels), bands)
  return buffer.getvalue()


def len_to_layout(pixels):
  return {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[pixels.shape[2]]


def chunks(png):
  """[(type, length)] of a PNG's chunks."""
  found, at = [], 8
  while at < len(png):
    (length,) = struct.unpack(">I", png[at:at + 4])
    found.append((png[at + 4:at + 8], length))
    at += 12 + length
  return found


def inflated_image_data(png):
  """The filtered rows a PNG's IDAT chunks hold, with each row's filter byte."""
  data, at = b"", 8
  while at < len(png):
    (length,) = struct.unpack(">I", png[at:at + 4])
    if png[at + 4:at + 8] == b"IDAT":
      data += png[at + 8:at + 8 + length]
    at += 12 + length
  return zlib.decompress(data)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_bands_give_pillows_pixels_and_filters(layout):
  pixels = pixels_of(layout)
  # Bands of one row, of an odd height, and taller than the filter's slices.
  png = banded_png(pixels, [1, 45, 200, 54])
  decoded = np.asarray(Image.open(io.BytesIO(png)))
  assert Image.open(io.BytesIO(png)).mode == layout
  np.testing.assert_array_equal(decoded.reshape(pixels.shape), pixels)
  # Every row takes the filter Pillow picks, whatever zlib then deflates.
  assert inflated_image_data(png) == inflated_image_data(pillow_png(pixels))


@pytest.mark.parametrize("layout", LAYOUTS)
def test_bands_give_pillows_bytes_with_the_same_zlib(layout):
  pixels = pixels_of(layout)
  png, expected = banded_png(pixels, [100, 100, 100]), pillow_png(pixels)
  if png != expected and inflated_image_data(png) == inflated_image_data(expected):
    pytest.skip("Pillow's zlib deflates differently from Python's here")
  assert png == expected


def test_idat_chunks_are_pillows_blocks():
  # A wide noisy image: several 64 kB IDAT chunks, as Pillow writes them.
  pixels = np.random.default_rng(0).integers(0, 256, (500, 300, 3), dtype=np.uint8)
  png = banded_png(pixels, [500])
  assert len(chunks(png)) > 5
  assert chunks(png) == chunks(pillow_png(pixels))
  np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(png))), pixels)


def test_wrong_number_of_rows_is_refused():
  pixels = pixels_of("RGB", height=20)
  with pytest.raises(ValueError, match="19 rows"):
    write_png_bands(io.BytesIO(), 97, 20, "RGB", [pixels[:19]])
  with pytest.raises(ValueError, match="more than"):
    write_png_bands(io.BytesIO(), 97, 20, "RGB", [pixels, pixels[:1]])


@pytest.mark.parametrize("layout", LAYOUTS)
def test_band_wise_file_is_the_whole_image_file(tmp_path, layout):
  pixels = pixels_of(layout, height=500)  # Taller than write_png's bands of 256 rows.
  write_png(tmp_path / "whole.png", DecodedImage(pixels, layout))
  bands = (pixels[top:top + 70] for top in range(0, 500, 70))
  write_png_rows(tmp_path / "bands.png", 97, 500, layout, bands)
  assert (tmp_path / "whole.png").read_bytes() == (tmp_path / "bands.png").read_bytes()
  decoded = np.asarray(Image.open(tmp_path / "bands.png"))
  np.testing.assert_array_equal(decoded.reshape(pixels.shape), pixels)


def test_failure_mid_way_leaves_no_file(tmp_path):
  pixels = pixels_of("RGB")
  def bands():
    yield pixels[:100]
    raise BitstreamError("payload is corrupt")
  with pytest.raises(BitstreamError):
    write_png_rows(tmp_path / "out.png", 97, 300, "RGB", bands())
  assert os.listdir(tmp_path) == []


@pytest.fixture(scope="module")
def model():
  tf.keras.utils.set_random_seed(3)
  model = create_model(TINY)
  model.build_coding_tables()
  model.model_name, model.fingerprint = "tiny", bytes(16)
  return model


# Taller than one band of 32-pixel tiles, and not a multiple of it.
IMAGE = np.ascontiguousarray(photo("astronaut")[37:237, 11:307])


@pytest.mark.parametrize("layout", LAYOUTS)
def test_tiled_decode_writes_the_decoded_pixels(model, tmp_path, layout):
  alpha = IMAGE[:, :, 1:2] // 2 + 100
  gray = IMAGE[:, :, :1]
  pixels = {"L": gray, "LA": np.concatenate([gray, alpha], 2), "RGB": IMAGE,
            "RGBA": np.concatenate([IMAGE, alpha], 2)}[layout]
  data = codec.compress_image(model, from_pixels(pixels, []), tile_size=32)
  (tmp_path / "a.cmpr").write_bytes(data)
  codec.decompress_file(model, str(tmp_path / "a.cmpr"), str(tmp_path / "a.png"), tile_size=32)
  written = Image.open(tmp_path / "a.png")
  assert written.mode == layout
  expected = codec.decompress_bytes(data, model, tile_size=None)
  assert expected.layout == layout
  np.testing.assert_array_equal(np.asarray(written).reshape(expected.pixels.shape),
                                expected.pixels)
  # The file is the one a whole-image decode writes.
  codec.decompress_file(model, str(tmp_path / "a.cmpr"), str(tmp_path / "b.png"), tile_size=None)
  assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()


def test_corrupt_payload_found_after_the_last_band_leaves_no_file(model, tmp_path):
  data = codec.compress_image(model, DecodedImage(IMAGE, "RGB"), tile_size=32)
  (tmp_path / "a.cmpr").write_bytes(data[:len(data) * 2 // 3])
  with pytest.raises(BitstreamError):
    codec.decompress_file(model, str(tmp_path / "a.cmpr"), str(tmp_path / "a.png"),
                          tile_size=32)
  assert os.listdir(tmp_path) == ["a.cmpr"]
