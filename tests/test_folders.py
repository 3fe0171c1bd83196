"""Folder runs of compress and decompress: outputs checked first, one model, failures isolated."""

import os

import numpy as np
import pytest
from PIL import Image

from compressor.coding.codec import compress_file, decompress_file
from compressor.coding.folders import compress_folder, decompress_folder
from compressor.coding.store import ModelFinder, load_model
from compressor.errors import CompressorError
from conftest import photo

NAMES = ["coffee.png", "gray.png", "rocket.jpg"]


@pytest.fixture(scope="module")
def model(seeded_model_dir):
  return load_model(seeded_model_dir)


@pytest.fixture
def photos(tmp_path):
  """Three small images of several sizes and layouts, and a file whose name is not an image's."""
  directory = tmp_path / "photos"
  directory.mkdir()
  Image.fromarray(photo("coffee")[:40, :56]).save(directory / "coffee.png")
  Image.fromarray(photo("chelsea")[:33, :17, 0]).save(directory / "gray.png")
  Image.fromarray(photo("rocket")[:48, :64]).save(directory / "rocket.jpg", quality=90)
  (directory / "notes.txt").write_text("skipped")
  return directory


def contents(directory):
  return {name: (directory / name).read_bytes() for name in os.listdir(directory)}


def test_folder_round_trip_decodes_as_single_files(model, photos, tmp_path):
  compressed, decoded, single = tmp_path / "compressed", tmp_path / "decoded", tmp_path / "single"
  seen = []
  items = compress_folder(model, str(photos), str(compressed), progress=seen.append)
  assert seen == items
  assert [(i.index, i.total, i.error) for i in items] == [(1, 3, None), (2, 3, None), (3, 3, None)]
  assert [os.path.basename(i.output_path) for i in items] == [n + ".cmpr" for n in NAMES]
  assert items[-1].files_per_second > 0 and items[-1].eta == 0
  items = decompress_folder(model, str(compressed), str(decoded))
  assert [i.stats.layout for i in items] == ["RGB", "L", "RGB"]
  single.mkdir()
  for name in NAMES:
    stem = name.split(".")[0]
    compress_file(model, str(photos / name), str(single / f"{name}.cmpr"))
    assert (single / f"{name}.cmpr").read_bytes() == (compressed / f"{name}.cmpr").read_bytes()
    decompress_file(model, str(compressed / f"{name}.cmpr"), str(single / f"{stem}.png"))
    np.testing.assert_array_equal(np.asarray(Image.open(decoded / f"{stem}.decoded.png")),
                                  np.asarray(Image.open(single / f"{stem}.png")))


def test_outputs_go_next_to_the_inputs_by_default(model, photos):
  compress_folder(model, str(photos))
  decompress_folder(model, str(photos))
  assert sorted(os.listdir(photos)) == sorted(
      NAMES + [n + ".cmpr" for n in NAMES] + ["notes.txt", "coffee.decoded.png",
                                              "gray.decoded.png", "rocket.decoded.png"])


def test_existing_outputs_refuse_the_whole_run_and_stay_untouched(model, photos, tmp_path):
  out = tmp_path / "out"
  out.mkdir()
  # Not the first file: a run that coded as it went would have written coffee's.
  (out / "gray.png.cmpr").write_bytes(b"mine")
  with pytest.raises(CompressorError, match="gray.png.cmpr exists; pass --overwrite to replace it"):
    compress_folder(model, str(photos), str(out))
  (out / "rocket.jpg.cmpr").write_bytes(b"mine too")
  with pytest.raises(CompressorError, match="exists, and 1 more; pass --overwrite"):
    compress_folder(model, str(photos), str(out))
  assert contents(out) == {"gray.png.cmpr": b"mine", "rocket.jpg.cmpr": b"mine too"}
  compress_folder(model, str(photos), str(out), overwrite=True)
  assert all(data.startswith(b"CMPR") for data in contents(out).values())


def test_a_failing_file_does_not_stop_the_others(model, photos, tmp_path):
  (photos / "a-text.png").write_text("not a PNG")
  items = compress_folder(model, str(photos), str(tmp_path / "out"))
  assert [os.path.basename(i.input_path) for i in items] == ["a-text.png"] + NAMES
  assert "not an image Pillow can read" in items[0].error and items[0].stats is None
  assert [i.error for i in items[1:]] == [None] * 3
  assert sorted(os.listdir(tmp_path / "out")) == [n + ".cmpr" for n in NAMES]
  broken = tmp_path / "out" / "broken.png.cmpr"
  broken.write_bytes((tmp_path / "out" / "coffee.png.cmpr").read_bytes()[:-9])
  items = decompress_folder(model, str(tmp_path / "out"), str(tmp_path / "decoded"))
  assert [i.error is None for i in items] == [False, True, True, True]
  assert "truncated" in items[0].error
  assert len(os.listdir(tmp_path / "decoded")) == 3


def test_a_folder_of_files_by_one_model_loads_it_once(model, seeded_model_dir, photos, tmp_path,
                                                      monkeypatch):
  compress_folder(model, str(photos), str(tmp_path / "out"))
  loads = []
  monkeypatch.setattr("compressor.coding.store.load_model",
                      lambda directory: loads.append(directory) or model)
  finder = ModelFinder(search_path=[os.path.dirname(seeded_model_dir)])
  items = decompress_folder(finder, str(tmp_path / "out"), str(tmp_path / "decoded"))
  assert [i.error for i in items] == [None] * 3 and loads == [seeded_model_dir]


def test_two_inputs_for_one_output_name_are_refused(model, photos, tmp_path):
  compress_folder(model, str(photos), str(tmp_path / "out"))
  os.rename(tmp_path / "out" / "gray.png.cmpr", tmp_path / "out" / "coffee.jpg.cmpr")
  with pytest.raises(CompressorError, match="would both be written to .*coffee.decoded.png"):
    decompress_folder(model, str(tmp_path / "out"), str(tmp_path / "decoded"))
  assert not os.path.exists(tmp_path / "decoded")


def test_folders_without_inputs_are_errors(model, tmp_path):
  with pytest.raises(CompressorError, match="no image files in"):
    compress_folder(model, str(tmp_path))
  with pytest.raises(CompressorError, match="no .cmpr files in"):
    decompress_folder(model, str(tmp_path))
