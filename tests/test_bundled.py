"""The models shipped inside the package: present, within budget, intact, and decoding exactly."""

import os

import numpy as np
import pytest

from compressor.coding import zoo
from compressor.coding.codec import compress_image, decompress_bytes
from compressor.coding.images import DecodedImage
from compressor.coding.store import WEIGHTS_FILE, load_model, read_description
from conftest import photo

# What the package promises: every bundled weight file together at most this size.
MAX_BUNDLED_BYTES = 40 * 10**6


@pytest.fixture(scope="module")
def levels():
  levels = zoo.quality_levels()
  assert len(levels) >= 3, f"the default family {zoo.DEFAULT_FAMILY} is not bundled"
  return levels


def test_bundled_weights_fit_the_size_budget(levels):
  sizes = [os.path.getsize(os.path.join(d, WEIGHTS_FILE))
           for d in zoo.bundled_models().values()]
  assert sum(sizes) <= MAX_BUNDLED_BYTES


def test_every_level_loads_and_decodes_to_its_hard_forward_pass(levels):
  image = photo("astronaut")[100:165, 200:297].copy()  # odd sizes: padding and cropping
  for level, directory in levels.items():
    model = load_model(directory)  # checks the weights against the fingerprint
    data = compress_image(model, DecodedImage(image, "RGB"))
    decoded = decompress_bytes(data, model).pixels
    np.testing.assert_array_equal(decoded, model.reconstruct(image), err_msg=f"level {level}")


def test_rate_and_quality_rise_with_the_level(levels):
  measured = [read_description(d)["metadata"]["measured"] for d in levels.values()]
  assert all(m["images"] > 0 for m in measured)
  bpps, psnrs = [m["bpp"] for m in measured], [m["psnr"] for m in measured]
  assert bpps == sorted(bpps) and len(set(bpps)) == len(bpps)
  assert psnrs == sorted(psnrs) and len(set(psnrs)) == len(psnrs)
  # The same holds on a photo the models never saw, coded for real.
  image = DecodedImage(photo("coffee")[:128, :192].copy(), "RGB")
  sizes = [len(compress_image(load_model(d), image)) for d in levels.values()]
  assert sizes == sorted(sizes) and len(set(sizes)) == len(sizes)
