"""A PNG writer fed bands of rows, so that a decoded image need never be held whole.

It writes what Pillow's PNG writer writes with its default settings: the same
chunks (IHDR, IDATs of Pillow's block size, IEND), the same filter for every
row (Pillow's adaptive choice among none, sub, up and Paeth) and the same
deflate settings (level 6, memLevel 9, Z_FILTERED). So the file is the one
Pillow writes, byte for byte, wherever Python's zlib makes the deflate stream
Pillow's zlib makes (tests/test_pngstream.py checks it); with another zlib it
is another valid PNG of the same pixels.
"""

import struct
import zlib

import numpy as np

__all__ = ["COLOR_TYPES", "filter_rows", "write_png_bands"]

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# PNG colour type of each layout, at 8 bits per sample.
COLOR_TYPES = {"L": 0, "LA": 4, "RGB": 2, "RGBA": 6}
# Pillow's IDAT size: its encoder's buffer, ImageFile.MAXBLOCK or 4 bytes a pixel of a row.
_MIN_IDAT = 65536
# Rows filtered at once: bounds the filter's temporaries to a few MB whatever the band.
_FILTER_ROWS = 32


def _chunk(kind, data):
  return (struct.pack(">I", len(data)) + kind + data
          + struct.pack(">I", zlib.crc32(data, zlib.crc32(kind))))


def _cost(filtered):
  """Per row, Pillow's (and libpng's) measure: the sum of the bytes' distances from zero."""
  return np.minimum(filtered, 256 - filtered).sum(axis=1, dtype=np.int64)


def filter_rows(rows, previous, channels):
  """PNG-filtered rows as Pillow's encoder filters them, each with its filter-type byte.

  `rows` is n x (width * channels) uint8, `previous` the row above the first
  (zeros above the image). Each row takes the filter whose output is closest
  to zero, the earliest of none, up, sub, Paeth on a tie, as Pillow tries them.
  """
  x = rows.astype(np.int16)
  b = np.concatenate([previous[None].astype(np.int16), x[:-1]])  # Above.
  a = np.zeros_like(x)  # Left.
  a[:, channels:] = x[:, :-channels]
  c = np.zeros_like(x)  # Above left.
  c[:, channels:] = b[:, :-channels]
  pa, pb, pc = np.abs(b - c), np.abs(a - c), np.abs(a + b - 2 * c)
  paeth = np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))
  candidates = np.stack([x, x - b, x - a, x - paeth]) & 0xFF  # Filter types 0, 2, 1, 4.
  choice = np.argmin(np.stack([_cost(f) for f in candidates]), axis=0)
  out = np.empty((len(rows), rows.shape[1] + 1), np.uint8)
  out[:, 0] = np.array([0, 2, 1, 4], np.uint8)[choice]
  out[:, 1:] = candidates[choice, np.arange(len(rows))]
  return out


def write_png_bands(file, width, height, layout, bands):
  """Writes an 8-bit PNG to a binary file from bands of rows, top to bottom.

  Each band is an h x width x channels (or h x width for L) uint8 array; the
  bands' heights must add up to `height`. Memory is one band plus a few rows.
  """
  channels = len(layout)
  file.write(_SIGNATURE)
  file.write(_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, COLOR_TYPES[layout],
                                         0, 0, 0)))
  compressor = zlib.compressobj(6, zlib.DEFLATED, 15, 9, zlib.Z_FILTERED)
  block = max(_MIN_IDAT, width * 4)
  pending = bytearray()
  previous = np.zeros(width * channels, np.uint8)
  rows_written = 0
  for band in bands:
    band = np.asarray(band, np.uint8).reshape(-1, width * channels)
    rows_written += len(band)
    if rows_written > height:
      raise ValueError(f"bands have more than the image's {height} rows")
    for top in range(0, len(band), _FILTER_ROWS):
      rows = band[top:top + _FILTER_ROWS]
      pending += compressor.compress(filter_rows(rows, previous, channels).tobytes())
      previous = rows[-1]
      while len(pending) >= block:
        file.write(_chunk(b"IDAT", bytes(pending[:block])))
        del pending[:block]
  if rows_written != height:
    raise ValueError(f"bands have {rows_written} rows, not the image's {height}")
  pending += compressor.flush()
  for start in range(0, len(pending), block):
    file.write(_chunk(b"IDAT", bytes(pending[start:start + block])))
  file.write(_chunk(b"IEND", b""))
