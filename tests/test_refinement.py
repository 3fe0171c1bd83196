"""Encoder effort: refined latents code smaller files for the unchanged decoder."""

import dataclasses
import zlib

import numpy as np
import pytest
from PIL import Image
from test_cli import run

from compressor.coding import container, folders, refinement
from compressor.coding.codec import (
  compress_file,
  compress_image,
  compress_to_target,
  decompress_bytes,
)
from compressor.coding.images import DecodedImage, split_alpha
from compressor.coding.store import load_model
from compressor.errors import CompressorError
from compressor.evaluation import rate_distortion as evaluation
from compressor.evaluation.metrics import mse
from compressor.training.trainer import TrainingConfig, train
from conftest import TINY, photo, random_image

# A short schedule keeps the tests quick; the real levels are longer.
QUICK = refinement.Schedule(iterations=25, learning_rate=1e-2)


@pytest.fixture
def quick(monkeypatch):
  monkeypatch.setitem(refinement.EFFORT_LEVELS, 1, QUICK)


@pytest.fixture(scope="module", params=["hyperprior", "mean-scale-hyperprior"])
def hyperprior_model(request, tmp_path_factory, photo_dir):
  """A seeded hyperprior model of each kind, exported before any training step."""
  model_dir = str(tmp_path_factory.mktemp("refine") / request.param)
  config = dataclasses.replace(TINY, architecture=request.param, hyper_filters=8)
  train(model_dir, config, TrainingConfig(train_glob=str(photo_dir / "*.png"), steps=0, seed=0),
        name=request.param)
  return load_model(model_dir)


def previous_compress_image(model, image, tile_size):
  """compress_image as it was before effort existed."""
  rgb, alpha = split_alpha(image)
  coded, coded_shapes = model.encode(rgb, tile_size=tile_size)
  payloads = [band for bands in coded for band in bands]
  if alpha is not None:
    payloads.append(zlib.compress(alpha.tobytes(), 9))
  header = container.Header(
      layout=image.layout, model_name=model.model_name or "", fingerprint=model.fingerprint,
      width=image.width, height=image.height, coded_shapes=coded_shapes)
  return container.pack(header, payloads)


def real_loss(model, image, data):
  """bpp of the whole file plus lambda * MSE of what the unchanged decoder makes of it."""
  decoded = decompress_bytes(data, model).pixels
  height, width = image.shape[:2]
  return 8 * len(data) / (height * width) + model.metadata["lambda"] * mse(image, decoded)


@pytest.mark.parametrize("tile_size", [None, 32])
def test_effort_0_makes_the_previous_bytes(trained_model, tile_size):
  image = DecodedImage(photo("astronaut")[:70, :90], "RGB")
  expected = previous_compress_image(trained_model, image, tile_size)
  assert compress_image(trained_model, image, tile_size=tile_size) == expected
  assert compress_image(trained_model, image, tile_size=tile_size, effort=0) == expected


def test_effort_0_makes_the_previous_bytes_with_a_hyperprior(hyperprior_model):
  image = DecodedImage(photo("astronaut")[:40, :56], "RGB")
  assert (compress_image(hyperprior_model, image, effort=0)
          == previous_compress_image(hyperprior_model, image, None))


def check_decodes_to_refined_latents(model, pixels):
  refined = refinement.refine(model, pixels, 1)
  data = compress_image(model, DecodedImage(pixels, "RGB"), effort=1)
  height, width = pixels.shape[:2]
  synthesized = model._synthesize(refined.latents).numpy()[:height, :width]
  np.testing.assert_array_equal(decompress_bytes(data, model).pixels, synthesized)
  assert refined.loss <= refined.initial_loss
  return refined


def test_refined_file_decodes_to_the_refined_latents(trained_model, quick):
  refined = check_decodes_to_refined_latents(trained_model, photo("astronaut")[:48, :80])
  assert refined.loss < refined.initial_loss


def test_hyperprior_refined_file_decodes_to_the_refined_latents(hyperprior_model, quick):
  refined = check_decodes_to_refined_latents(hyperprior_model, photo("astronaut")[:40, :56])
  assert refined.loss < refined.initial_loss
  assert len(refined.coded) == 2  # side information and latents are both refined


def test_refinement_lowers_the_real_loss_on_a_photo(trained_model):
  """The file's real bpp + lambda * MSE, with the effort 1 schedule itself."""
  pixels = photo("astronaut")[100:196, 160:288]
  image = DecodedImage(pixels, "RGB")
  before = real_loss(trained_model, pixels, compress_image(trained_model, image))
  after = real_loss(trained_model, pixels, compress_image(trained_model, image, effort=1))
  assert after < 0.97 * before, (before, after)


def test_refinement_is_deterministic(trained_model, quick):
  image = DecodedImage(random_image(32, 48), "RGB")
  assert compress_image(trained_model, image, effort=1) == compress_image(
      trained_model, image, effort=1)


def test_unknown_effort_is_refused(trained_model):
  with pytest.raises(CompressorError, match="effort 7 is not one of 0, 1"):
    compress_image(trained_model, DecodedImage(random_image(16, 16), "RGB"), effort=7)


def test_tiled_image_is_coded_at_effort_0_with_a_note(trained_model, tmp_path):
  pixels = random_image(40, 72)
  Image.fromarray(pixels).save(tmp_path / "wide.png")
  stats = compress_file(trained_model, str(tmp_path / "wide.png"), str(tmp_path / "a.cmpr"),
                        tile_size=32, effort=1)
  assert any("effort 1 lowered to 0 for this 72x40 image" in note for note in stats.notes)
  with open(tmp_path / "a.cmpr", "rb") as f:
    assert f.read() == previous_compress_image(trained_model, DecodedImage(pixels, "RGB"), 32)


def test_target_bpp_codes_every_level_at_the_effort(trained_model, hyperprior_model, quick):
  image = DecodedImage(photo("astronaut")[:40, :56], "RGB")
  models = [hyperprior_model, trained_model]
  data, chosen = compress_to_target(models, image, 100.0, tile_size=None, effort=1)
  assert chosen is trained_model
  assert data == compress_image(trained_model, image, tile_size=None, effort=1)


def test_folder_and_cli(trained_model_dir, tmp_path, quick):
  """--effort through compress_folder, and the command line (its own, real schedule)."""
  folder = tmp_path / "in"
  folder.mkdir()
  pixels = photo("astronaut")[:32, :48]
  Image.fromarray(pixels).save(folder / "a.png")
  model = load_model(trained_model_dir)
  items = folders.compress_folder(model, str(folder), str(tmp_path / "out"), effort=1)
  assert items[0].error is None
  with open(tmp_path / "out" / "a.png.cmpr", "rb") as f:
    assert f.read() == compress_image(model, DecodedImage(pixels, "RGB"), effort=1)
  result = run("compress", "--model", trained_model_dir, "--effort", "1", folder / "a.png",
               tmp_path / "cli.cmpr")
  assert result.returncode == 0, result.stderr
  with open(tmp_path / "cli.cmpr", "rb") as f:
    assert decompress_bytes(f.read(), model).pixels.shape == pixels.shape


def test_evaluation_keys_effort_apart(trained_model_dir, tmp_path, quick):
  image = tmp_path / "a.png"
  Image.fromarray(photo("astronaut")[:32, :48]).save(image)
  curves = [evaluation.model_curve([trained_model_dir], "m"),
            evaluation.model_curve([trained_model_dir], "m-effort1", effort=1)]
  assert curves[1].settings == [curves[0].settings[0] + "@effort1"]
  out = tmp_path / "eval"
  evaluation.evaluate([str(image)], curves, str(out), anchor="m", references=[])
  rows = evaluation.read_rows(str(out / "per_image.csv"))
  assert sorted(r["curve"] for r in rows) == ["m", "m-effort1"]
  assert rows[0]["bytes"] != rows[1]["bytes"] or rows[0]["psnr_rgb"] != rows[1]["psnr_rgb"]
