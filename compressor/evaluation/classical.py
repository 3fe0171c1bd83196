"""Classical codecs through Pillow, each with a quality sweep, for comparison."""

import dataclasses
import io

import numpy as np
from PIL import Image

__all__ = ["CODECS", "ClassicalCodec", "codec_by_name"]


@dataclasses.dataclass(frozen=True)
class ClassicalCodec:
  """A Pillow format with the save options of one setting of its quality knob."""

  name: str
  description: str
  pillow_format: str
  settings: tuple  # values of the quality knob, low rate first
  options: callable  # setting -> keyword arguments for Image.save

  def encode(self, pixels, setting):
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, self.pillow_format, **self.options(setting))
    return buffer.getvalue()

  def decode(self, data):
    with Image.open(io.BytesIO(data)) as image:
      return np.asarray(image.convert("RGB"))


_JPEG_QUALITIES = (5, 10, 15, 20, 30, 40, 50, 60, 70, 80, 90, 95)
CODECS = (
    ClassicalCodec("jpeg-420", "JPEG (libjpeg via Pillow), 4:2:0 chroma", "JPEG",
                   _JPEG_QUALITIES, lambda q: dict(quality=q, subsampling=2)),
    ClassicalCodec("jpeg-444", "JPEG (libjpeg via Pillow), 4:4:4 chroma", "JPEG",
                   _JPEG_QUALITIES, lambda q: dict(quality=q, subsampling=0)),
    ClassicalCodec("webp", "WebP (libwebp via Pillow), method 6", "WEBP",
                   (0, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95),
                   lambda q: dict(quality=q, method=6)),
    ClassicalCodec("avif", "AVIF (libavif via Pillow), 4:4:4", "AVIF",
                   (5, 15, 25, 35, 45, 55, 65, 75, 85, 92),
                   lambda q: dict(quality=q, subsampling="4:4:4")),
    # The knob is the compression ratio against 24-bit RGB: bpp = 24 / ratio. Pillow's
    # default is no colour transform (mct=0), which costs about 4 dB; encoders in use
    # apply it.
    ClassicalCodec("jpeg2000", "JPEG 2000 (OpenJPEG via Pillow), 9/7 wavelet, YCbCr",
                   "JPEG2000", (240, 160, 100, 70, 48, 32, 24, 16, 12),
                   lambda r: dict(quality_mode="rates", quality_layers=[r],
                                  irreversible=True, mct=1)),
)


def codec_by_name(name):
  for codec in CODECS:
    if codec.name == name:
      return codec
  raise ValueError(f"unknown codec {name!r}; choose from "
                   f"{', '.join(c.name for c in CODECS)}")
