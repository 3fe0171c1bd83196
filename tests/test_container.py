"""The bitstream container: every field round-trips, every corruption is caught."""

import struct
import zlib

import pytest

from compressor.coding import container
from compressor.coding.container import VERSION, Header, pack, unpack
from compressor.errors import BitstreamError
from compressor.nn.bands import BAND_ROWS

FINGERPRINT = bytes(range(16))
# The coded tensors of a factorized model (latents) and of a hyperprior model
# (side information, then latents).
LATENTS = ((3, 2, 16),)
SIDE_AND_LATENTS = ((1, 1, 8), (3, 2, 16))


def make(layout="RGB", name="model-ä", width=17, height=33, shapes=LATENTS):
  header = Header(layout=layout, model_name=name, fingerprint=FINGERPRINT,
                  width=width, height=height, coded_shapes=shapes)
  payloads = [b"coded-%d" % i * (3 + i) for i in range(sum(header.payload_counts))]
  return header, payloads + ([b"alpha"] if header.has_alpha else [])


def shapes_offset(header):
  return 34 + len(header.model_name.encode("utf-8"))


def with_crc(body):
  return body + struct.pack(">I", zlib.crc32(body))


@pytest.mark.parametrize("layout", ["L", "LA", "RGB", "RGBA"])
@pytest.mark.parametrize("name", ["", "m", "bmshj2018-factorized-ℓ0.01", "x" * 255])
@pytest.mark.parametrize("shapes", [((1, 4096, 4096),), ((1, 1024, 4096), (1, 4096, 320))])
def test_every_field_round_trips(layout, name, shapes):
  header, payloads = make(layout, name, width=65535, height=3, shapes=shapes)
  parsed, parsed_payloads = unpack(pack(header, payloads))
  assert parsed == header
  assert parsed_payloads == payloads


def test_layout_is_documented_byte_for_byte():
  header, payloads = make("RGBA", name="ab", shapes=SIDE_AND_LATENTS)
  data = pack(header, payloads)
  assert data[:4] == b"CMPR" and data[4] == 3 and data[5] == 4 and data[6] == 2
  assert data[7:23] == FINGERPRINT
  assert struct.unpack(">IIBH", data[23:34]) == (17, 33, 2, 3)
  assert data[34:36] == b"ab"
  assert struct.unpack(">IIHIIH", data[36:56]) == (1, 1, 8, 3, 2, 16)
  assert struct.unpack(">III", data[56:68]) == tuple(len(p) for p in payloads)
  assert data[68:-4] == b"".join(payloads)
  assert struct.unpack(">I", data[-4:])[0] == zlib.crc32(data[:-4])


def test_tensors_taller_than_a_band_have_a_payload_per_band():
  """BAND_ROWS rows a payload, the last band shorter: 2 * BAND_ROWS + 1 rows are 3 payloads."""
  rows = 2 * BAND_ROWS + 1
  header, payloads = make("LA", width=8, height=4 * rows, shapes=((rows // 4, 2, 8), (rows, 2, 16)))
  assert header.payload_counts == (1, 3)
  parsed, parsed_payloads = unpack(pack(header, payloads))
  assert parsed == header and parsed_payloads == payloads
  assert parsed.split_payloads(parsed_payloads) == ([payloads[:1], payloads[1:4]], b"alpha")
  with pytest.raises(ValueError, match="one payload per band"):
    pack(header, payloads[:3] + payloads[4:])


def test_version_2_files_are_read_with_one_payload_a_tensor():
  """The layout files were written in until version 3: the payload count in one byte."""
  rows = 3 * BAND_ROWS
  shapes = ((rows // 4, 2, 8), (rows, 2, 16))
  payloads = [b"side", b"latents", b"alpha"]
  body = (struct.pack(">4sBBB16sIIBB", b"CMPR", 2, 4, 1, FINGERPRINT, 8, 4 * rows, 2, 3)
          + b"m" + b"".join(struct.pack(">IIH", *shape) for shape in shapes)
          + b"".join(struct.pack(">I", len(p)) for p in payloads) + b"".join(payloads))
  header, parsed_payloads = unpack(with_crc(body))
  assert header == Header("RGBA", "m", FINGERPRINT, 8, 4 * rows, shapes, version=2)
  assert header.split_payloads(parsed_payloads) == ([[b"side"], [b"latents"]], b"alpha")
  with pytest.raises(ValueError, match="writes format version 3 only"):
    pack(header, parsed_payloads)


def test_header_lists_coded_tensors_in_payload_order():
  header, payloads = make("LA", shapes=SIDE_AND_LATENTS)
  parsed, parsed_payloads = unpack(pack(header, payloads))
  assert parsed.coded_shapes == SIDE_AND_LATENTS
  assert parsed_payloads == [b"coded-0" * 3, b"coded-1" * 4, b"alpha"]


def test_every_truncation_is_rejected():
  data = pack(*make("RGBA", shapes=SIDE_AND_LATENTS))
  for length in range(len(data)):
    with pytest.raises(BitstreamError, match="truncated|empty"):
      unpack(data[:length])


def test_every_bit_flip_is_rejected():
  data = pack(*make("RGBA", shapes=SIDE_AND_LATENTS))
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


@pytest.mark.parametrize("version", [VERSION + 1, 1])
def test_other_versions_are_refused(version):
  """A future version, and version 1, whose header had room for one coded tensor only."""
  data = bytearray(pack(*make()))
  data[4] = version
  with pytest.raises(BitstreamError, match=f"unsupported format version {version}; "
                                           "this build reads versions 2, 3"):
    unpack(with_crc(bytes(data[:-4])))


@pytest.mark.parametrize("width,height", [(10**6, 10**6), (0, 5), (5, 0), (65535, 65535)])
def test_absurd_dimensions_are_refused(width, height):
  data = bytearray(pack(*make()))
  data[23:31] = struct.pack(">II", width, height)
  with pytest.raises(BitstreamError, match="header claims"):
    unpack(with_crc(bytes(data[:-4])))


@pytest.mark.parametrize("tensor", [0, 1])
def test_latent_shape_impossible_for_image(tensor):
  header, payloads = make(width=16, height=16, shapes=((1, 1, 8), (1, 1, 16)))
  data = bytearray(pack(header, payloads))
  at = shapes_offset(header) + 10 * tensor
  data[at:at + 4] = struct.pack(">I", 17)  # more latent rows than pixel rows
  with pytest.raises(BitstreamError, match="latents"):
    unpack(with_crc(bytes(data[:-4])))


def test_no_coded_tensor_is_refused():
  body = struct.pack(">4sBBB16sIIBH", b"CMPR", VERSION, 3, 0, FINGERPRINT, 17, 33, 0, 0)
  with pytest.raises(BitstreamError, match="no coded tensors"):
    unpack(with_crc(body))


def test_payload_count_must_fit_tensors_and_layout():
  data = bytearray(pack(*make("RGBA", shapes=SIDE_AND_LATENTS)))
  data[5] = 3  # RGB: the alpha plane's payload is one too many
  with pytest.raises(BitstreamError, match=r"3 payloads do not fit 2 coded tensors of 1\+1 "
                                           r"bands and channel layout RGB \(2 payloads\)"):
    unpack(with_crc(bytes(data[:-4])))


def test_payload_length_beyond_the_file():
  header, payloads = make(name="")
  data = bytearray(pack(header, payloads))
  at = shapes_offset(header) + 10
  data[at:at + 4] = struct.pack(">I", 2**32 - 1)
  with pytest.raises(BitstreamError, match="truncated: header announces"):
    unpack(with_crc(bytes(data[:-4])))


def test_trailing_garbage_is_rejected():
  with pytest.raises(BitstreamError, match="too long"):
    unpack(pack(*make()) + b"\0")


def test_pack_refuses_inconsistent_headers():
  header, payloads = make("RGBA")
  with pytest.raises(ValueError, match="payload"):
    pack(header, payloads[:1])
  with pytest.raises(ValueError, match="payload"):
    pack(Header("RGB", "", FINGERPRINT, 3, 3, SIDE_AND_LATENTS), [b""])
  with pytest.raises(ValueError, match="at least one coded tensor"):
    pack(Header("RGB", "", FINGERPRINT, 1, 1, ()), [])
  with pytest.raises(BitstreamError, match="header claims"):
    pack(Header("RGB", "", FINGERPRINT, container.MAX_SIDE + 1, 1, [(1, 1, 1)]), [b""])
