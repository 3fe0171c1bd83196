"""Reading images of any Pillow mode into the codec's four layouts, and writing PNG."""

import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from compressor.coding.container import has_alpha
from compressor.coding.pngstream import write_png_bands
from compressor.errors import ImageError
from compressor.fileio import write_atomically

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "DecodedImage",
    "check_pixel_limit",
    "from_pillow",
    "from_pixels",
    "merge_alpha",
    "merge_alpha_rows",
    "read_image",
    "split_alpha",
    "write_png",
    "write_png_rows",
]

# Modes that are converted to one of L, LA, RGB, RGBA, and how.
_CONVERSIONS = {
    "1": "L", "CMYK": "RGB", "YCbCr": "RGB", "LAB": "RGB", "HSV": "RGB",
    "RGBX": "RGB", "RGBa": "RGBA", "La": "LA", "PA": "RGBA",
}


class DecodedImage:
  """8-bit pixels (HxWxC) in layout L, LA, RGB or RGBA, plus conversion notes."""

  def __init__(self, pixels, layout, notes=()):
    self.pixels = pixels
    self.layout = layout
    self.notes = list(notes)

  @property
  def height(self):
    return self.pixels.shape[0]

  @property
  def width(self):
    return self.pixels.shape[1]


def _to_codec_mode(image, notes):
  mode = image.mode
  if mode in ("L", "LA", "RGB", "RGBA"):
    return image
  if mode == "P":
    target = "RGBA" if "transparency" in image.info else "RGB"
    notes.append(f"palette image converted to {target}")
    return image.convert(target)
  if mode.startswith("I;16") or mode in ("I", "F"):
    values = np.asarray(image, dtype=np.float64)
    scale = 257.0 if mode.startswith("I;16") or values.max() > 255 else 1.0
    notes.append(f"{mode} image reduced to 8 bits per sample")
    return Image.fromarray(np.clip(np.round(values / scale), 0, 255).astype(np.uint8))
  if mode in _CONVERSIONS:
    notes.append(f"{mode} image converted to {_CONVERSIONS[mode]}")
    return image.convert(_CONVERSIONS[mode])
  raise ImageError(f"unsupported image mode {mode}")


# Coding in tiles needs a few bytes per pixel beyond a fixed amount (see
# docs/speed.md, "Large images"), so 268 MP fit in about 4 GB.
DEFAULT_MAX_PIXELS = 1 << 28


def check_pixel_limit(width, height, max_pixels, what):
  if width * height > max_pixels:
    raise ImageError(
        f"{what} is {width}x{height} = {width * height} pixels, over the limit of "
        f"{max_pixels} (raise it with --max_pixels if you have the memory)")


def read_image(path, max_pixels=DEFAULT_MAX_PIXELS):
  """Decodes any file Pillow reads; raises ImageError with a one-line reason.

  The pixel limit is checked from the file's header, before decoding. It
  replaces Pillow's decompression-bomb limit, which would refuse photos over
  89 MP whatever the limit says.
  """
  notes = []
  pillow_limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
  try:
    with Image.open(path) as image:
      check_pixel_limit(image.width, image.height, max_pixels, path)
      image.load()
      pixels = from_pillow(image, notes)
  except FileNotFoundError:
    raise ImageError(f"{path}: no such file") from None
  except IsADirectoryError:
    raise ImageError(f"{path} is a directory, not an image") from None
  except UnidentifiedImageError:
    raise ImageError(f"{path} is not an image Pillow can read") from None
  except (OSError, SyntaxError, ValueError) as e:
    raise ImageError(f"{path}: corrupt or unreadable image ({e})") from None
  finally:
    Image.MAX_IMAGE_PIXELS = pillow_limit
  return from_pixels(pixels, notes, what=f"{path}: image")


def from_pillow(image, notes):
  """The 8-bit pixels of a loaded Pillow image, upright and in one of the codec's modes."""
  if image.getexif().get(ExifTags.Base.Orientation, 1) != 1:
    image = ImageOps.exif_transpose(image)
    notes.append("rotated as its EXIF orientation says")
  return np.array(_to_codec_mode(image, notes), dtype=np.uint8)


def from_pixels(pixels, notes, what="image"):
  """A DecodedImage of uint8 pixels (HxW or HxWxC, C = 1 to 4); fully opaque alpha is dropped."""
  if pixels.ndim == 2:
    pixels = pixels[:, :, None]
  if pixels.shape[0] == 0 or pixels.shape[1] == 0:
    raise ImageError(f"{what} has zero width or height")
  layout = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[pixels.shape[2]]
  if has_alpha(layout) and (pixels[:, :, -1] == 255).all():
    notes.append("alpha channel is fully opaque and was dropped")
    pixels = pixels[:, :, :-1]
    layout = layout[:-1]
  return DecodedImage(np.ascontiguousarray(pixels), layout, notes)


def split_alpha(image):
  """Returns (RGB pixels for the model, alpha plane or None)."""
  pixels = image.pixels
  alpha = pixels[:, :, -1] if image.layout in ("LA", "RGBA") else None
  color = pixels[:, :, :1] if image.layout.startswith("L") else pixels[:, :, :3]
  if color.shape[2] == 1:
    color = np.repeat(color, 3, axis=2)
  return np.ascontiguousarray(color), alpha


def merge_alpha_rows(rgb, alpha, layout):
  """The output pixels of decoded RGB rows and their alpha rows (or None), in `layout`.

  Gray layouts take the mean of the decoded RGB. Works on any band of rows.
  """
  if layout.startswith("L"):
    color = np.round(rgb.astype(np.float32).mean(axis=2, keepdims=True)).astype(np.uint8)
  else:
    color = rgb
  if alpha is not None:
    color = np.concatenate([color, alpha[:, :, None]], axis=2)
  return color


def merge_alpha(rgb, alpha, layout):
  """Inverse of split_alpha: gray layouts take the mean of the decoded RGB."""
  return DecodedImage(merge_alpha_rows(rgb, alpha, layout), layout)


# Rows per band when a whole image is written: bounds the PNG filter's copies.
_WRITE_ROWS = 256


def write_png(path, image, overwrite=False):
  """Writes a DecodedImage as PNG (Pillow's default PNG, see pngstream), atomically."""
  pixels = image.pixels
  bands = (pixels[top:top + _WRITE_ROWS] for top in range(0, image.height, _WRITE_ROWS))
  write_png_rows(path, image.width, image.height, image.layout, bands, overwrite)


def write_png_rows(path, width, height, layout, bands, overwrite=False):
  """Writes a PNG from an iterable of bands of rows (h x width x channels), atomically.

  The file is the one write_png writes for the whole image, whatever the
  bands. An exception from the iterable leaves no file behind.
  """
  write_atomically(path, lambda f: write_png_bands(f, width, height, layout, bands), overwrite)
