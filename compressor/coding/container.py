"""The bitstream container: header, range-coded payloads and a CRC32.

A file (format version 3, integers big-endian) is a header (magic, version, channel layout,
model name and fingerprint, image size, the shape of each range-coded tensor and the length of
each payload), then the payloads (each coded tensor as bands of rows, compressor.nn.bands,
then the zlib-compressed alpha plane if any) and a CRC32 of every byte before it. Files of
version 2, one payload a coded tensor, are read too. `unpack` does all its checks before it
allocates anything sized by the header. docs/format.md has the byte layout and the order of
the checks.
"""

import dataclasses
import struct
import zlib

from compressor.errors import BitstreamError
from compressor.nn.bands import band_bounds

__all__ = [
    "EXTENSION",
    "bits_per_pixel",
    "has_alpha",
    "LAYOUTS",
    "Header",
    "MAGIC",
    "MAX_PIXELS",
    "MAX_SIDE",
    "READ_VERSIONS",
    "VERSION",
    "pack",
    "unpack",
]

MAGIC = b"CMPR"
# The file name extension of compressed files.
EXTENSION = ".cmpr"

# The version written, and those read: version 2 coded each tensor as one payload.
VERSION = 3
READ_VERSIONS = (2, 3)
LAYOUTS = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}
# Largest image accepted, checked before anything is allocated.
MAX_SIDE = 65535
MAX_PIXELS = 1 << 30
MAX_LATENT_CHANNELS = 4096
# Up to the number of payloads: one byte in version 2, two since.
_FIXED = {2: struct.Struct(">4sBBB16sIIBB"), 3: struct.Struct(">4sBBB16sIIBH")}
_SHAPE = struct.Struct(">IIH")
_LENGTH = struct.Struct(">I")
_CRC = struct.Struct(">I")
# The shortest header any readable version has.
MIN_SIZE = min(fixed.size for fixed in _FIXED.values()) + _CRC.size


@dataclasses.dataclass(frozen=True)
class Header:
  """Everything a decoder needs besides the model weights."""

  layout: str
  model_name: str
  fingerprint: bytes
  width: int
  height: int
  # (height, width, channels) of each range-coded tensor, in payload order.
  coded_shapes: tuple
  # The format version of the file: how its tensors are cut into payloads.
  version: int = VERSION

  def __post_init__(self):
    object.__setattr__(self, "coded_shapes", tuple(tuple(s) for s in self.coded_shapes))

  @property
  def has_alpha(self):
    return has_alpha(self.layout)

  @property
  def payload_counts(self):
    """How many payloads code each tensor: its bands of rows, or one in version 2."""
    if self.version == 2:
      return tuple(1 for _ in self.coded_shapes)
    return tuple(len(band_bounds(shape[0])) for shape in self.coded_shapes)

  def split_payloads(self, payloads):
    """(each coded tensor's list of payloads, the alpha plane's payload or None)."""
    tensors, at = [], 0
    for count in self.payload_counts:
      tensors.append(list(payloads[at:at + count]))
      at += count
    return tensors, (payloads[at] if self.has_alpha else None)


def has_alpha(layout):
  """Whether a channel layout (L, LA, RGB, RGBA) has an alpha plane."""
  return layout in ("LA", "RGBA")


def bits_per_pixel(num_bytes, width, height):
  """The rate of `num_bytes` (a whole file, header included) for a width x height image."""
  return 8.0 * num_bytes / (width * height)


def _layout_code(layout):
  for code, name in LAYOUTS.items():
    if name == layout:
      return code
  raise ValueError(f"unknown channel layout {layout!r}")


def _check_dimensions(width, height, coded_shapes):
  if not (1 <= width <= MAX_SIDE and 1 <= height <= MAX_SIDE):
    raise BitstreamError(
        f"header claims an image of {width}x{height} pixels; each side must be "
        f"1 to {MAX_SIDE}")
  if width * height > MAX_PIXELS:
    raise BitstreamError(
        f"header claims {width}x{height} = {width * height} pixels, more than "
        f"the limit of {MAX_PIXELS}")
  for latent_height, latent_width, channels in coded_shapes:
    if not (1 <= latent_height <= height and 1 <= latent_width <= width
            and 1 <= channels <= MAX_LATENT_CHANNELS):
      raise BitstreamError(
          f"header claims latents of shape {latent_height}x{latent_width}x{channels}, "
          f"impossible for a {width}x{height} image")


def pack(header, payloads):
  """Serializes a header and its payloads (bytes, in file order) into a complete file.

  The payloads are each coded tensor's bands of rows, then the alpha plane's.
  """
  name = header.model_name.encode("utf-8")
  if len(name) > 255:
    raise ValueError("model name longer than 255 bytes")
  if len(header.fingerprint) != 16:
    raise ValueError("fingerprint must be 16 bytes")
  if header.version != VERSION:
    raise ValueError(f"this build writes format version {VERSION} only")
  if not header.coded_shapes:
    raise ValueError("an image is at least one coded tensor")
  _check_dimensions(header.width, header.height, header.coded_shapes)
  if len(payloads) != sum(header.payload_counts) + header.has_alpha:
    raise ValueError("one payload per band of each coded tensor, plus one for the alpha plane")
  parts = [_FIXED[VERSION].pack(MAGIC, VERSION, _layout_code(header.layout), len(name),
                       header.fingerprint, header.width, header.height,
                       len(header.coded_shapes), len(payloads)), name]
  parts += [_SHAPE.pack(*shape) for shape in header.coded_shapes]
  parts += [_LENGTH.pack(len(p)) for p in payloads]
  parts += list(payloads)
  body = b"".join(parts)
  return body + _CRC.pack(zlib.crc32(body))


def unpack(data):
  """Parses and checks a file; returns (Header, [payload bytes]).

  Every check happens before any buffer sized by the header is allocated.
  """
  if not data:
    raise BitstreamError("file is empty")
  if not MAGIC.startswith(data[:4]):
    raise BitstreamError("not a compressor bitstream (wrong magic number)")
  # A file that ends before its version byte is reported as truncated below.
  version = data[len(MAGIC)] if len(data) > len(MAGIC) else VERSION
  if version not in READ_VERSIONS:
    raise BitstreamError(
        f"unsupported format version {version}; this build reads versions "
        f"{', '.join(map(str, READ_VERSIONS))}")
  fixed = _FIXED[version]
  if len(data) < fixed.size + _CRC.size:
    raise BitstreamError(
        f"file is truncated: {len(data)} bytes, shorter than the "
        f"{fixed.size + _CRC.size}-byte header")
  (_, _, layout_code, name_length, model_fingerprint, width, height,
   tensors, count) = fixed.unpack_from(data)
  shapes_at = fixed.size + name_length
  lengths_at = shapes_at + _SHAPE.size * tensors
  payloads_at = lengths_at + _LENGTH.size * count
  if len(data) < payloads_at + _CRC.size:
    raise BitstreamError(f"file is truncated: {len(data)} bytes end inside the header")
  lengths = [_LENGTH.unpack_from(data, lengths_at + _LENGTH.size * i)[0]
             for i in range(count)]
  expected_size = payloads_at + sum(lengths) + _CRC.size
  if expected_size != len(data):
    raise BitstreamError(
        f"file is {'truncated' if expected_size > len(data) else 'too long'}: header "
        f"announces {expected_size} bytes, the file has {len(data)}")
  (stored_crc,) = _CRC.unpack_from(data, len(data) - _CRC.size)
  if zlib.crc32(data[:-_CRC.size]) != stored_crc:
    raise BitstreamError("checksum mismatch: the file is corrupt")
  # Past the CRC, remaining problems mean a writer bug or a crafted file.
  if layout_code not in LAYOUTS:
    raise BitstreamError(f"unknown channel layout code {layout_code}")
  layout = LAYOUTS[layout_code]
  if tensors == 0:
    raise BitstreamError("header announces no coded tensors")
  coded_shapes = tuple(_SHAPE.unpack_from(data, shapes_at + _SHAPE.size * i)
                       for i in range(tensors))
  _check_dimensions(width, height, coded_shapes)
  try:
    model_name = data[fixed.size:shapes_at].decode("utf-8")
  except UnicodeDecodeError:
    raise BitstreamError("model name in the header is not valid UTF-8") from None
  header = Header(layout=layout, model_name=model_name, fingerprint=model_fingerprint,
                  width=width, height=height, coded_shapes=coded_shapes, version=version)
  expected = sum(header.payload_counts) + header.has_alpha
  if count != expected:
    raise BitstreamError(
        f"{count} payloads do not fit {tensors} coded tensors of "
        f"{'+'.join(map(str, header.payload_counts))} bands and channel layout {layout} "
        f"({expected} payloads)")
  payloads = []
  offset = payloads_at
  for length in lengths:
    payloads.append(bytes(data[offset:offset + length]))
    offset += length
  return header, payloads
