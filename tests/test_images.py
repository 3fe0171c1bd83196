"""Reading every kind of image Pillow opens into the codec's four layouts."""

import numpy as np
import pytest
from PIL import Image

from compressor.coding.images import merge_alpha, read_image, split_alpha
from compressor.errors import ImageError
from conftest import random_image


def save(tmp_path, image, name="image.png", **kwargs):
  path = tmp_path / name
  image.save(path, **kwargs)
  return str(path)


def test_rgb_png_is_read_exactly(tmp_path):
  pixels = random_image(9, 13)
  image = read_image(save(tmp_path, Image.fromarray(pixels)))
  assert image.layout == "RGB" and not image.notes
  np.testing.assert_array_equal(image.pixels, pixels)


@pytest.mark.parametrize("mode,layout", [("L", "L"), ("LA", "LA"), ("RGBA", "RGBA")])
def test_native_layouts(tmp_path, mode, layout):
  pixels = random_image(8, 8, channels=len(mode))
  pixels[0, 0, -1] = 3  # a non-opaque pixel keeps the alpha channel
  image = Image.fromarray(pixels if len(mode) > 1 else pixels[:, :, 0])
  result = read_image(save(tmp_path, image))
  assert result.layout == layout
  np.testing.assert_array_equal(result.pixels.reshape(pixels.shape), pixels)


def test_opaque_alpha_is_dropped_with_a_note(tmp_path):
  pixels = random_image(8, 8, channels=4)
  pixels[:, :, 3] = 255
  result = read_image(save(tmp_path, Image.fromarray(pixels)))
  assert result.layout == "RGB" and "fully opaque" in result.notes[0]


def test_palette_with_transparency_becomes_rgba(tmp_path):
  indices = np.array([[0, 1], [1, 2]], dtype=np.uint8)
  image = Image.new("P", (2, 2))
  image.putpalette([10, 20, 30, 200, 100, 0, 0, 0, 255])
  image.putdata(indices.flatten().tolist())
  result = read_image(save(tmp_path, image, transparency=0))
  assert result.layout == "RGBA" and "palette" in result.notes[0]
  np.testing.assert_array_equal(result.pixels[:, :, 3], [[0, 255], [255, 255]])
  np.testing.assert_array_equal(result.pixels[1, 1, :3], [0, 0, 255])


def test_palette_without_transparency_becomes_rgb(tmp_path):
  image = Image.fromarray(random_image(8, 8)).convert("P")
  result = read_image(save(tmp_path, image))
  assert result.layout == "RGB" and "palette" in result.notes[0]


def test_sixteen_bit_png_is_scaled_to_eight_bits(tmp_path):
  values = np.array([[0, 257 * 100, 65535]], dtype=np.uint16)
  result = read_image(save(tmp_path, Image.fromarray(values)))
  assert result.layout == "L" and "8 bits" in result.notes[0]
  np.testing.assert_array_equal(result.pixels[0, :, 0], [0, 100, 255])


def test_cmyk_jpeg_is_converted(tmp_path):
  image = Image.fromarray(random_image(16, 16)).convert("CMYK")
  result = read_image(save(tmp_path, image, "image.jpg"))
  assert result.layout == "RGB" and "CMYK" in result.notes[0]


@pytest.mark.parametrize("make,message", [
    (lambda p: p / "missing.png", "no such file"),
    (lambda p: p, "is a directory"),
    (lambda p: (p / "text.png").write_text("hello") and p / "text.png", "not an image"),
])
def test_unreadable_inputs(tmp_path, make, message):
  with pytest.raises(ImageError, match=message):
    read_image(str(make(tmp_path)))


def test_truncated_image_is_refused(tmp_path):
  path = save(tmp_path, Image.fromarray(random_image(64, 64)))
  data = open(path, "rb").read()
  with open(path, "wb") as f:
    f.write(data[:len(data) // 2])
  with pytest.raises(ImageError, match="corrupt"):
    read_image(path)


def test_max_pixels_is_the_decompression_bomb_limit(tmp_path, monkeypatch):
  # Pillow's own limit (89 MP by default) would refuse large photos the user
  # allowed; --max_pixels, checked from the header, replaces it.
  path = save(tmp_path, Image.fromarray(random_image(64, 64)))
  monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
  assert read_image(path).pixels.shape == (64, 64, 3)
  assert Image.MAX_IMAGE_PIXELS == 1000
  with pytest.raises(ImageError, match="64x64 = 4096 pixels, over the limit of 4095"):
    read_image(path, max_pixels=4095)
  assert Image.MAX_IMAGE_PIXELS == 1000


def test_gray_round_trip_through_rgb_planes():
  gray = random_image(5, 7, channels=1)
  from compressor.coding.images import DecodedImage
  rgb, alpha = split_alpha(DecodedImage(gray, "L"))
  assert rgb.shape == (5, 7, 3) and alpha is None
  np.testing.assert_array_equal(merge_alpha(rgb, None, "L").pixels, gray)


def test_exif_orientation_is_applied(tmp_path):
  pixels = random_image(4, 6)
  exif = Image.Exif()
  exif[0x0112] = 6  # rotate 90 degrees clockwise to display
  path = save(tmp_path, Image.fromarray(pixels), "rotated.jpg", exif=exif, quality=100)
  result = read_image(path)
  assert result.pixels.shape == (6, 4, 3) and "EXIF" in result.notes[0]
