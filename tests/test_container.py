"""The bitstream container: every field round-trips, every corruption is caught."""

import struct
import zlib

import pytest

from compressor import container
from compressor.container import Header, pack, unpack
from compressor.errors import BitstreamError

FINGERPRINT = bytes(range(16))


def make(layout="RGB", name="model-ä", width=17, height=33, latent=(3, 2, 16)):
  header = Header(layout=layout, model_name=name, fingerprint=FINGERPRINT,
                  width=width, height=height, latent_shape=latent)
  payloads = [b"latent-bytes" * 3] + ([b"alpha"] if header.has_alpha else [])
  return header, payloads


def with_crc(body):
  return body + struct.pack(">I", zlib.crc32(body))


@pytest.mark.parametrize("layout", ["L", "LA", "RGB", "RGBA"])
@pytest.mark.parametrize("name", ["", "m", "bmshj2018-factorized-ℓ0.01", "x" * 255])
def test_every_field_round_trips(layout, name):
  header, payloads = make(layout, name, width=65535, height=3, latent=(1, 4096, 4096))
  parsed, parsed_payloads = unpack(pack(header, payloads))
  assert parsed == header
  assert parsed_payloads == payloads


def test_layout_is_documented_byte_for_byte():
  header, payloads = make(name="ab")
  data = pack(header, payloads)
  assert data[:4] == b"CMPR" and data[4] == 1 and data[5] == 3 and data[6] == 2
  assert data[7:23] == FINGERPRINT
  assert struct.unpack(">IIIIHB", data[23:42]) == (17, 33, 3, 2, 16, 1)
  assert data[42:44] == b"ab"
  assert struct.unpack(">I", data[44:48])[0] == len(payloads[0])
  assert data[48:48 + len(payloads[0])] == payloads[0]
  assert struct.unpack(">I", data[-4:])[0] == zlib.crc32(data[:-4])


def test_every_truncation_is_rejected():
  data = pack(*make("RGBA"))
  for length in range(len(data)):
    with pytest.raises(BitstreamError, match="truncated|empty"):
      unpack(data[:length])


def test_every_bit_flip_is_rejected():
  data = pack(*make("RGBA"))
  for position in range(len(data)):
    for bit in (0, 7):
      corrupt = bytearray(data)
      corrupt[position] ^= 1 << bit
      with pytest.raises(BitstreamError):
        unpack(bytes(corrupt))


def test_bad_crc_is_named():
  data = bytearray(pack(*make()))
  data[-6] ^= 0xFF  # inside the payload
  with pytest.raises(BitstreamError, match="checksum mismatch"):
    unpack(bytes(data))


def test_wrong_magic():
  with pytest.raises(BitstreamError, match="magic"):
    unpack(b"\x89PNG\r\n\x1a\n" + bytes(100))


def test_unknown_future_version():
  data = bytearray(pack(*make()))
  data[4] = 2
  with pytest.raises(BitstreamError, match="unsupported format version 2"):
    unpack(with_crc(bytes(data[:-4])))


@pytest.mark.parametrize("width,height", [(10**6, 10**6), (0, 5), (5, 0), (65535, 65535)])
def test_absurd_dimensions_are_refused(width, height):
  data = bytearray(pack(*make()))
  data[23:31] = struct.pack(">II", width, height)
  with pytest.raises(BitstreamError, match="header claims"):
    unpack(with_crc(bytes(data[:-4])))


def test_latent_shape_impossible_for_image():
  data = bytearray(pack(*make(width=16, height=16, latent=(1, 1, 16))))
  data[31:35] = struct.pack(">I", 17)  # more latent rows than pixel rows
  with pytest.raises(BitstreamError, match="latents"):
    unpack(with_crc(bytes(data[:-4])))


def test_payload_length_beyond_the_file():
  data = bytearray(pack(*make(name="")))
  data[42:46] = struct.pack(">I", 2**32 - 1)
  with pytest.raises(BitstreamError, match="truncated: header announces"):
    unpack(with_crc(bytes(data[:-4])))


def test_trailing_garbage_is_rejected():
  with pytest.raises(BitstreamError, match="too long"):
    unpack(pack(*make()) + b"\0")


def test_pack_refuses_inconsistent_headers():
  header, payloads = make("RGBA")
  with pytest.raises(ValueError, match="payload"):
    pack(header, payloads[:1])
  with pytest.raises(BitstreamError, match="header claims"):
    pack(Header("RGB", "", FINGERPRINT, container.MAX_SIDE + 1, 1, (1, 1, 1)), [b""])
