"""Files in, files out: compress_file / decompress_file with real bitstreams."""

import os
import stat
import zlib

import numpy as np
import pytest
from PIL import Image

from compressor.coding import container
from compressor.coding.codec import (
  compress_file,
  decompress_bytes,
  decompress_file,
  default_decompressed_path,
)
from compressor.coding.images import read_image
from compressor.coding.store import ModelFinder
from compressor.errors import BitstreamError, CompressorError, ModelError
from conftest import photo, random_image


@pytest.fixture
def png(tmp_path):
  path = tmp_path / "photo.png"
  Image.fromarray(photo("chelsea")[:97, :130]).save(path)
  return str(path)


def test_rgb_round_trip_equals_forward_pass(trained_model, png, tmp_path):
  stats = compress_file(trained_model, png)
  assert os.path.getsize(png + ".cmpr") == stats.num_bytes
  assert stats.bpp == pytest.approx(8 * stats.num_bytes / (97 * 130))
  out = tmp_path / "out.png"
  decompress_file(trained_model, png + ".cmpr", str(out))
  decoded = np.asarray(Image.open(out))
  np.testing.assert_array_equal(decoded, trained_model.reconstruct(read_image(png).pixels))


def test_grayscale_decodes_to_grayscale(trained_model, tmp_path):
  gray = random_image(20, 30, channels=1)[:, :, 0]
  path = tmp_path / "gray.png"
  Image.fromarray(gray).save(path)
  compress_file(trained_model, str(path))
  decompress_file(trained_model, str(path) + ".cmpr", str(tmp_path / "gray.out.png"))
  decoded = Image.open(tmp_path / "gray.out.png")
  assert decoded.mode == "L"
  expected = trained_model.reconstruct(np.repeat(gray[:, :, None], 3, axis=2))
  np.testing.assert_array_equal(
      np.asarray(decoded), np.round(expected.astype(np.float32).mean(axis=2)))


def test_alpha_is_kept_losslessly(trained_model, tmp_path):
  pixels = random_image(21, 19, channels=4, seed=3)
  path = tmp_path / "alpha.png"
  Image.fromarray(pixels).save(path)
  compress_file(trained_model, str(path))
  decompress_file(trained_model, str(path) + ".cmpr", str(tmp_path / "alpha.out.png"))
  decoded = np.asarray(Image.open(tmp_path / "alpha.out.png"))
  assert decoded.shape == (21, 19, 4)
  np.testing.assert_array_equal(decoded[:, :, 3], pixels[:, :, 3])
  np.testing.assert_array_equal(decoded[:, :, :3],
                                trained_model.reconstruct(pixels[:, :, :3].copy()))


def test_existing_output_is_not_overwritten(trained_model, png, tmp_path):
  target = tmp_path / "taken.cmpr"
  target.write_bytes(b"precious")
  with pytest.raises(CompressorError, match="exists; pass --overwrite"):
    compress_file(trained_model, png, str(target))
  assert target.read_bytes() == b"precious"
  compress_file(trained_model, png, str(target), overwrite=True)
  assert target.read_bytes()[:4] == b"CMPR"


def test_input_is_never_overwritten(trained_model, png):
  with pytest.raises(CompressorError, match="input file"):
    compress_file(trained_model, png, png, overwrite=True)
  assert read_image(png).pixels.shape == (97, 130, 3)


def test_default_output_never_names_the_original():
  assert default_decompressed_path("a/photo.png.cmpr") == "a/photo.decoded.png"
  assert default_decompressed_path("x.bin") == "x.decoded.png"


def test_wrong_model_is_refused(trained_model, untrained_model, png, tmp_path):
  compress_file(trained_model, png)
  out = tmp_path / "never.png"
  untrained_model.fingerprint, untrained_model.model_name = bytes(16), "other"
  with pytest.raises(ModelError, match="not by the given model 'other'"):
    decompress_file(untrained_model, png + ".cmpr", str(out))
  assert not out.exists()


def test_model_is_found_by_fingerprint(trained_model, trained_model_dir, png, tmp_path):
  compress_file(trained_model, png)
  out = tmp_path / "found.png"
  finder = ModelFinder(search_path=[os.path.dirname(trained_model_dir)])
  decompress_file(finder, png + ".cmpr", str(out))
  assert out.exists()
  with pytest.raises(ModelError, match="not installed"):
    decompress_file(ModelFinder(search_path=[str(tmp_path)]), png + ".cmpr",
                    str(tmp_path / "x.png"))


def test_latent_shape_that_does_not_fit_the_model(trained_model, png):
  data = open(compress_file(trained_model, png) and png + ".cmpr", "rb").read()
  header, payloads = container.unpack(data)
  (shape,) = header.coded_shapes
  bad = container.Header(header.layout, header.model_name, header.fingerprint,
                         header.width, header.height, [(1, 1, shape[2])])
  with pytest.raises(BitstreamError, match="do not fit"):
    decompress_bytes(container.pack(bad, payloads), trained_model)


def test_garbled_payload_with_valid_crc_fails_cleanly(trained_model, png, tmp_path):
  compress_file(trained_model, png)
  data = bytearray(open(png + ".cmpr", "rb").read())
  header, payloads = container.unpack(bytes(data))
  garbled = bytes(b ^ 0x5A for b in payloads[0][:len(payloads[0]) // 2])
  data = container.pack(header, [garbled])
  out = tmp_path / "garbled.png"
  path = tmp_path / "garbled.cmpr"
  path.write_bytes(data)
  try:
    decompress_file(trained_model, str(path), str(out))
  except BitstreamError as e:
    assert "payload is corrupt" in str(e)
    assert not out.exists()
  else:  # The range coder may decode garbage to some image; it must still be whole.
    assert np.asarray(Image.open(out)).shape == (97, 130, 3)


def test_alpha_bomb_is_bounded(trained_model, tmp_path):
  pixels = random_image(8, 8, channels=4)
  path = tmp_path / "a.png"
  Image.fromarray(pixels).save(path)
  compress_file(trained_model, str(path))
  header, payloads = container.unpack(open(str(path) + ".cmpr", "rb").read())
  bomb = zlib.compress(bytes(10**7))
  with pytest.raises(BitstreamError, match="alpha plane has the wrong size"):
    decompress_bytes(container.pack(header, [payloads[0], bomb]), trained_model)


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_outputs_get_the_mode_a_new_file_gets(trained_model, png, tmp_path, umask):
  previous = os.umask(umask)
  try:
    compress_file(trained_model, png, str(tmp_path / "a.cmpr"))
    decompress_file(trained_model, str(tmp_path / "a.cmpr"), str(tmp_path / "a.png"))
    with open(tmp_path / "plain", "w"):
      pass
  finally:
    os.umask(previous)
  expected = stat.S_IMODE(os.stat(tmp_path / "plain").st_mode)
  assert expected == 0o666 & ~umask
  for name in ("a.cmpr", "a.png"):
    assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == expected, name
