"""A short fuzz run of the decoder (the long one is scripts/fuzz.py).

A seeded model exported before any step is enough, and needs no training.
Only CompressorErrors count as refusals: anything else the decoder raises fails
the test, and tests/test_decoder_hang.py covers inputs that could hang it.
"""

import collections

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compressor.coding.codec import compress_image
from compressor.coding.images import DecodedImage
from compressor.coding.store import load_model
from compressor.tools.fuzzing import decode_untrusted, repair_crc
from conftest import photo, random_image

OUTCOMES = collections.Counter()
REACHED = collections.Counter()
FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def model(seeded_model_dir):
  return load_model(seeded_model_dir)


@pytest.fixture(scope="module")
def seeds(model):
  """Valid files of every layout, the starting points for mutations."""
  rgba = np.dstack([photo("coffee")[:20, :24], random_image(20, 24, channels=1)])
  images = [DecodedImage(photo("astronaut")[:33, :17].copy(), "RGB"),
            DecodedImage(photo("camera")[:16, :16, None].copy(), "L"),
            DecodedImage(rgba, "RGBA")]
  return [compress_image(model, image) for image in images]


@FUZZ
@given(data=st.binary(max_size=200))
def test_random_bytes(model, data):
  OUTCOMES[decode_untrusted(data, model, reached=REACHED)] += 1


@FUZZ
@given(choice=st.integers(0, 2), edits=st.lists(st.tuples(st.integers(0, 10**6),
                                                          st.integers(0, 255)), max_size=4),
       cut=st.one_of(st.none(), st.integers(0, 10**6)), fix=st.booleans())
def test_mutated_bitstreams(model, seeds, choice, edits, cut, fix):
  data = bytearray(seeds[choice])
  for position, value in edits:
    data[position % len(data)] = value
  if cut is not None:
    del data[cut % len(data):]
  data = bytes(data)
  OUTCOMES[decode_untrusted(repair_crc(data) if fix else data, model, reached=REACHED)] += 1


def test_unmutated_seeds_decode(model, seeds):
  reached = collections.Counter()
  assert [decode_untrusted(s, model, reached=reached) for s in seeds] == ["decoded"] * 3
  assert reached["range decoder"] == 3
  print("fuzz outcomes so far:", dict(OUTCOMES), "reached the range decoder:",
        REACHED["range decoder"])
