"""The large-image benchmark's parts: the test photo and the per-process peak memory."""

import sys

import numpy as np
import pytest
from PIL import Image

from compressor.errors import CompressorError
from compressor.tools.scaling import make_large_photo, measure_command
from conftest import random_image


def test_large_photo_has_the_size_and_mirrored_content(tmp_path):
  source = random_image(30, 40)
  width, height = make_large_photo(tmp_path / "big.png", 0.01, source)
  assert abs(width * height - 10_000) < 200 and width > height
  pixels = np.asarray(Image.open(tmp_path / "big.png"))
  assert pixels.shape == (height, width, 3)
  np.testing.assert_array_equal(pixels[:30, :40], source)
  # Mirrored, so that the seams are continuous like the rest of the photo.
  np.testing.assert_array_equal(pixels[:30, 40:80], source[:, ::-1])
  np.testing.assert_array_equal(pixels[30:60, :40], source[::-1])


def test_peak_memory_and_cpu_time_are_the_commands_own():
  large = measure_command([sys.executable, "-c", "b = bytearray(400 << 20); b[::4096] = "
                           "b'x' * len(b[::4096])"])
  small = measure_command([sys.executable, "-c", "pass"])
  busy = measure_command([sys.executable, "-c", "import time\nend = time.process_time() + 0.5\n"
                          "while time.process_time() < end: pass"])
  assert large.peak_bytes >= 400 << 20
  assert small.peak_bytes < 100 << 20  # the earlier, larger child does not count
  # CPU time counts the child's work, not the probe's own start nor time spent waiting.
  assert busy.cpu_seconds >= 0.5 and small.cpu_seconds < 0.5
  sleeper = measure_command([sys.executable, "-c", "import time; time.sleep(0.6)"])
  assert sleeper.seconds >= 0.6 and sleeper.cpu_seconds < 0.3


def test_a_failing_command_is_an_error():
  with pytest.raises(CompressorError, match="failed: boom$"):
    measure_command([sys.executable, "-c", "import sys; sys.exit('boom')"])
