"""Payload bands: each coded tensor's rows in bands of BAND_ROWS, decoded one band at a time."""

import dataclasses
import struct
import zlib

import numpy as np
import pytest
import tensorflow as tf

from compressor.coding import codec, container
from compressor.coding.images import DecodedImage
from compressor.errors import BitstreamError
from compressor.nn import entropy_coding, factorized, hyperprior
from compressor.nn.bands import BAND_ROWS, band_bounds, payload_bounds
from compressor.nn.registry import create_model
from compressor.nn.tiling import rebanded
from conftest import TINY, photo

ARCHITECTURES = ["factorized", "hyperprior", "mean-scale-hyperprior"]


def test_bands_cover_the_rows_in_order():
  for rows in (1, BAND_ROWS - 1, BAND_ROWS, BAND_ROWS + 1, 3 * BAND_ROWS + 7):
    bounds = band_bounds(rows)
    assert bounds[0][0] == 0 and bounds[-1][1] == rows
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))
    assert all(bottom - top == BAND_ROWS for top, bottom in bounds[:-1])
    assert 1 <= bounds[-1][1] - bounds[-1][0] <= BAND_ROWS
    assert payload_bounds(rows, len(bounds)) == bounds
    assert payload_bounds(rows, 1) == [(0, rows)]  # a tensor coded whole (version 2)
    assert payload_bounds(rows, len(bounds) + 1) is None


def test_rebanded_gives_the_same_rows_in_band_bounds():
  rng = np.random.default_rng(5)
  rows = np.arange(3 * BAND_ROWS + 11)[:, None] * np.ones((1, 2))
  cuts = np.sort(rng.choice(np.arange(1, len(rows)), 9, replace=False))
  blocks = np.split(rows, cuts)
  result = list(rebanded(blocks, BAND_ROWS))
  assert [len(band) for band in result] == [b - t for t, b in band_bounds(len(rows))]
  np.testing.assert_array_equal(np.concatenate(result), rows)


def model_for(architecture):
  tf.keras.utils.set_random_seed(4)
  model = create_model(dataclasses.replace(TINY, architecture=architecture))
  model.build_coding_tables()
  model.model_name, model.fingerprint = architecture, bytes(16)
  return model


@pytest.fixture(scope="module", params=ARCHITECTURES)
def model(request):
  return model_for(request.param)


# Taller than one band of latents (BAND_ROWS * 16 pixels under TINY) and narrow, so cheap.
TALL = np.ascontiguousarray(
    np.concatenate([photo("astronaut"), photo("astronaut")[::-1], photo("astronaut")])
    [:BAND_ROWS * TINY.downsampling + 100, 200:248])


def test_a_tall_image_is_coded_in_bands_and_decodes_exactly(model):
  height, width = TALL.shape[:2]
  strings, shapes = model.encode(TALL, tile_size=None)
  assert [len(tensor) for tensor in strings] == [len(band_bounds(s[0])) for s in shapes]
  assert len(strings[-1]) == 2  # the latents: 71 rows
  # Tiles give the same payloads, and the file decodes the same either way.
  assert model.encode(TALL, tile_size=32) == (strings, shapes)
  expected = model.reconstruct(TALL)
  for tile_size in (None, 32):
    np.testing.assert_array_equal(
        model.decode(strings, shapes, height, width, tile_size=tile_size), expected)


def test_each_band_is_decoded_with_the_padding_of_its_own_values(model, monkeypatch):
  """What keeps decoding memory flat: no decoder input sized by the whole tensor."""
  sizes = []
  original = entropy_coding.decoder_input
  def recorded(string, num_values, coder):
    sizes.append(num_values)
    return original(string, num_values, coder)
  monkeypatch.setattr(entropy_coding, "decoder_input", recorded)
  strings, shapes = model.encode(TALL)
  model.decode(strings, shapes, *TALL.shape[:2], tile_size=32)
  latent_rows, latent_width, channels = shapes[-1]
  assert max(sizes) == BAND_ROWS * latent_width * channels
  assert sorted(sizes)[-2:] == [(latent_rows - BAND_ROWS) * latent_width * channels,
                                BAND_ROWS * latent_width * channels]


def test_bands_in_the_wrong_order_are_refused(model):
  """Every band is checked against its own payload: swapped bands do not pass."""
  data = codec.compress_image(model, DecodedImage(TALL, "RGB"))
  header, payloads = container.unpack(data)
  payloads[-1], payloads[-2] = payloads[-2], payloads[-1]
  with pytest.raises(BitstreamError, match="latent payload"):
    codec.decompress_bytes(container.pack(header, payloads), model)


def version_2_file(header, payloads):
  """The bytes version 2 wrote: as version 3, but a one-byte payload count."""
  name = header.model_name.encode("utf-8")
  body = struct.pack(">4sBBB16sIIBB", container.MAGIC, 2, 3, len(name), header.fingerprint,
                     header.width, header.height, len(header.coded_shapes), len(payloads))
  body += name + b"".join(struct.pack(">IIH", *shape) for shape in header.coded_shapes)
  body += b"".join(struct.pack(">I", len(p)) for p in payloads) + b"".join(payloads)
  return body + struct.pack(">I", zlib.crc32(body))


def test_version_2_files_of_one_payload_a_tensor_decode_to_the_same_pixels(model, monkeypatch):
  """Files written before the bands, each tensor coded in one piece, keep decoding."""
  with monkeypatch.context() as whole:
    for module in (factorized, hyperprior):
      whole.setattr(module, "band_bounds", lambda rows: [(0, rows)])
    strings, shapes = model.encode(TALL, tile_size=None)
  assert [len(tensor) for tensor in strings] == [1] * len(shapes)
  header = container.Header("RGB", model.model_name, model.fingerprint, TALL.shape[1],
                            TALL.shape[0], shapes)
  old = version_2_file(header, [tensor[0] for tensor in strings])
  assert container.unpack(old)[0].version == 2
  expected = model.reconstruct(TALL)
  for tile_size in (None, 32):
    np.testing.assert_array_equal(
        codec.decompress_bytes(old, model, tile_size=tile_size).pixels, expected)
  assert BAND_ROWS < shapes[-1][0]  # so the old file really had a tensor of two bands in one
