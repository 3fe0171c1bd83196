"""Tiled coding: the same latents, bitstream and pixels as whole-image coding."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from compressor.coding import codec
from compressor.coding.images import DecodedImage
from compressor.errors import BitstreamError
from compressor.nn import tiling
from compressor.nn.registry import create_model
from compressor.nn.tiling import analyze_in_bands, context, tiles_needed
from conftest import TINY, photo, random_image

CONFIGS = {
    "factorized": TINY,
    # The 2017 paper's shape: a 9x9 stride-4 stage first, so the halo differs.
    "bls2017-shape": dataclasses.replace(TINY, kernel_sizes=(9, 5, 5), strides=(4, 2, 2)),
    "relu": dataclasses.replace(TINY, normalization="relu"),
    "hyperprior": dataclasses.replace(TINY, architecture="hyperprior"),
    "mean-scale": dataclasses.replace(TINY, architecture="mean-scale-hyperprior"),
}


def seeded_model(config, seed=3):
  tf.keras.utils.set_random_seed(seed)
  model = create_model(config)
  model.build_coding_tables()
  return model


@pytest.fixture(scope="module", params=sorted(CONFIGS))
def model(request):
  return seeded_model(CONFIGS[request.param])


# A medium image that is not a multiple of the tile or of the downsampling.
IMAGE = np.ascontiguousarray(photo("astronaut")[37:237, 11:307])


def test_context_is_the_receptive_field_rounded_to_latents():
  # 5x5 stride-2 stages: 2 * (1 + 2 + 4 + 8) = 30 pixels, i.e. 2 latents of 16.
  assert context(TINY) == (32, 3)
  # 9x9 stride 4, then 5x5 stride 2 twice: 4 + 2 * 4 + 2 * 8 = 28 pixels.
  assert context(CONFIGS["bls2017-shape"]) == (32, 3)


# One latent per tile: every tile border is a seam.
@pytest.mark.parametrize("tile_size", [16])
def test_tiled_latents_equal_the_whole_image_latents(model, tile_size):
  whole = model.analysis(model._padded(IMAGE) / 255.0).numpy()[0]
  bands = list(analyze_in_bands(model._analyze_tile, IMAGE, model.config, tile_size))
  tiled = np.concatenate(bands)
  assert tiled.shape == whole.shape
  assert len(bands) == -(-whole.shape[0] // max(tile_size // model.config.downsampling, 1))
  np.testing.assert_allclose(tiled, whole, rtol=0, atol=1e-4 * np.abs(whole).max())


@pytest.mark.parametrize("tile_size", [32])
def test_tiled_coding_makes_the_same_bitstream_and_pixels(model, tile_size):
  height, width = IMAGE.shape[:2]
  whole_strings, shapes = model.encode(IMAGE, tile_size=None)
  tiled_strings, tiled_shapes = model.encode(IMAGE, tile_size=tile_size)
  assert tiled_shapes == shapes
  assert tiled_strings == whole_strings
  whole = model.decode(whole_strings, shapes, height, width, tile_size=None)
  np.testing.assert_array_equal(
      model.decode(whole_strings, shapes, height, width, tile_size=tile_size), whole)
  np.testing.assert_array_equal(whole, model.reconstruct(IMAGE))


def float_synthesis(model, latents, tile_size):
  """The synthesis transform's float output, in tiles (None: whole)."""
  tile = lambda tile_latents: model.synthesis(tile_latents)[0].numpy()
  if tile_size is None:
    return tile(latents[None])
  height, width = (side * model.config.downsampling for side in latents.shape[:2])
  return np.concatenate(list(tiling.synthesize_in_bands(
      tile, [latents], model.config, height, width, tile_size)))


@pytest.mark.parametrize("tile_size", [16])
def test_tiled_synthesis_equals_the_whole_synthesis(model, tile_size):
  latents = model.analysis(model._padded(IMAGE) / 255.0).numpy()[0]
  whole = float_synthesis(model, latents, None)
  np.testing.assert_allclose(float_synthesis(model, latents, tile_size), whole,
                             rtol=0, atol=1e-4 * np.abs(whole).max())


def test_synthesis_tiles_have_half_the_side_of_the_analysis_tiles(model):
  """The synthesis holds about twice the memory a pixel (compressor.nn.tiling)."""
  latents = model.analysis(model._padded(IMAGE) / 255.0).numpy()[0]
  shapes = []
  def tile(tile_latents):
    shapes.append(tile_latents.shape[1:3])
    return np.zeros((tile_latents.shape[1] * 16, tile_latents.shape[2] * 16, 3), np.uint8)
  list(tiling.synthesize_in_bands(tile, [latents], model.config, *IMAGE.shape[:2], 64))
  _, halo = context(model.config)
  rows, cols = latents.shape[:2]  # 13 x 19: tiles of 2 latents, plus their context
  assert len(shapes) == -(-rows // 2) * -(-cols // 2)
  assert max(shapes) == (2 + 2 * halo, 2 + 2 * halo)


def test_too_little_context_is_caught(model, monkeypatch):
  # The equalities above hold because of the context: without it, tiles
  # disagree with the whole image at their borders.
  monkeypatch.setattr(tiling, "context", lambda config: (0, 0))
  whole = model.analysis(model._padded(IMAGE) / 255.0).numpy()[0]
  tiled = np.concatenate(list(analyze_in_bands(model._analyze_tile, IMAGE, model.config, 32)))
  assert np.abs(tiled - whole).max() > 1e-2 * np.abs(whole).max()
  reconstruction = float_synthesis(model, whole, None)
  assert (np.abs(float_synthesis(model, whole, 32) - reconstruction).max()
          > 1e-2 * np.abs(reconstruction).max())


def test_normalizations_with_image_statistics_are_never_tiled():
  for normalization in ("group", "instance", "layer"):
    config = dataclasses.replace(TINY, normalization=normalization)
    assert not tiles_needed(config, 4000, 4000, 16)
  model = seeded_model(config)
  image = random_image(70, 90)
  strings, shapes = model.encode(image, tile_size=16)
  assert strings == model.encode(image, tile_size=None)[0]
  np.testing.assert_array_equal(model.decode(strings, shapes, 70, 90, tile_size=16),
                                model.reconstruct(image))


def test_only_images_larger_than_a_tile_are_tiled():
  assert tiles_needed(TINY, 1025, 10, 1024)
  assert tiles_needed(TINY, 10, 1025, 1024)
  assert not tiles_needed(TINY, 1024, 1024, 1024)
  assert not tiles_needed(TINY, 5000, 5000, None)


def test_a_truncated_tiled_payload_is_a_bitstream_error():
  model = seeded_model(TINY)
  model.model_name, model.fingerprint = "tiny", bytes(16)
  data = codec.compress_image(model, DecodedImage(IMAGE, "RGB"), tile_size=32)
  with pytest.raises(BitstreamError):
    codec.decompress_bytes(data[:len(data) * 2 // 3], model, tile_size=32)
  decoded = codec.decompress_bytes(data, model, tile_size=32)
  np.testing.assert_array_equal(decoded.pixels, model.reconstruct(IMAGE))
