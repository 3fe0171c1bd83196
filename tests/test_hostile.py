"""Every bad input and fault we know of, what the user gets, and the docs table of it.

Each case runs the library call behind a command (the CLI prints the message as
`compressor COMMAND: error: MESSAGE` and exits 1, see test_cli.py). The table in
docs/robustness.md between the hostile-inputs markers is generated from these outcomes; run
`COMPRESSOR_UPDATE_DOCS=1 pytest tests/test_hostile.py` after changing a message.
"""

import os
import re
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from compressor.coding import container
from compressor.coding.codec import compress_file, decompress_file
from compressor.coding.folders import compress_folder, decompress_folder
from compressor.coding.store import ModelFinder, load_model
from compressor.errors import CompressorError
from compressor.training.trainer import TrainingConfig, train
from conftest import TINY, photo

ROBUSTNESS_DOC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                              "docs", "robustness.md")
BEGIN, END = "<!-- hostile-inputs:begin -->", "<!-- hostile-inputs:end -->"


def png(directory, name="photo.png", pixels=None, **save):
  path = os.path.join(directory, name)
  Image.fromarray(photo("coffee")[:40, :56] if pixels is None else pixels).save(path, **save)
  return path


def rewrite(path, edit):
  data = bytearray(open(path, "rb").read())
  edit(data)
  with open(path, "wb") as f:
    f.write(bytes(data))


def fix_crc(data):
  data[-4:] = struct.pack(">I", zlib.crc32(bytes(data[:-4])))


def bitstream(env, edit=None):
  path = os.path.join(env.dir, "photo.cmpr")
  compress_file(env.model, png(env.dir), path)
  if edit:
    rewrite(path, edit)
  return path


def set_field(offset, fmt, *values):
  def edit(data):
    data[offset:offset + struct.calcsize(fmt)] = struct.pack(fmt, *values)
    fix_crc(data)
  return edit


def other_model_bitstream(env):
  path = bitstream(env)
  rewrite(path, lambda d: (d.__setitem__(slice(7, 23), bytes(16)), fix_crc(d)))
  return path


# (what, command, setup(env) -> input path, extra keyword arguments)
DECODER = [
    ("empty file", lambda e: open(os.path.join(e.dir, "empty.cmpr"), "wb").close()
     or os.path.join(e.dir, "empty.cmpr"), {}),
    ("truncated file (half of it)",
     lambda e: (lambda p: rewrite(p, lambda d: d.__delitem__(slice(len(d) // 2, None)))
                or p)(bitstream(e)), {}),
    ("a PNG, not a bitstream", lambda e: png(e.dir, "x.png"), {}),
    ("wrong magic number", lambda e: bitstream(e, lambda d: d.__setitem__(0, ord("X"))), {}),
    ("unknown future format version",
     lambda e: bitstream(e, set_field(4, ">B", container.VERSION + 1)), {}),
    ("header claiming 10^6 x 10^6 pixels",
     lambda e: bitstream(e, set_field(23, ">II", 10**6, 10**6)), {}),
    ("header claiming 20000 x 20000 pixels (valid, over the memory limit)",
     lambda e: bitstream(e, set_field(23, ">II", 20000, 20000)), {}),
    # The lengths follow the fixed header, the name "tiny" and one coded shape.
    ("payload length beyond the end of the file",
     lambda e: bitstream(e, set_field(34 + 4 + 10, ">I", 2**31)), {}),
    ("one bit flipped in the payload (bad CRC)",
     lambda e: bitstream(e, lambda d: d.__setitem__(60, d[60] ^ 4)), {}),
    ("one bit flipped in the header", lambda e: bitstream(
        e, lambda d: d.__setitem__(24, d[24] ^ 1)), {}),
    ("made by a model that is not installed", other_model_bitstream, {"resolve": True}),
    ("made by another model than --model", other_model_bitstream, {}),
    ("a folder without .cmpr files", lambda e: empty_folder(e.dir), {}),
    ("missing file", lambda e: os.path.join(e.dir, "missing.cmpr"), {}),
    ("output file exists (no --overwrite)",
     lambda e: (open(os.path.join(e.dir, "photo.decoded.png"), "w").write("mine"),
                bitstream(e))[1], {"keep": "photo.decoded.png"}),
]

ENCODER = [
    ("missing file", lambda e: os.path.join(e.dir, "missing.png"), {}),
    ("a folder without images", lambda e: empty_folder(e.dir), {}),
    ("a text file named .png", lambda e: (open(os.path.join(e.dir, "t.png"), "w").write("hi"),
                                          os.path.join(e.dir, "t.png"))[1], {}),
    ("truncated PNG", lambda e: (lambda p: rewrite(p, lambda d: d.__delitem__(
        slice(len(d) // 2, None))) or p)(png(e.dir)), {}),
    ("zero-size image (PNG header says 0 x 0)",
     lambda e: (lambda p: rewrite(p, lambda d: d.__setitem__(slice(16, 24), bytes(8))) or p)(
         png(e.dir)), {}),
    ("decompression bomb (over --max_pixels)", lambda e: png(e.dir), {"max_pixels": 1000}),
    ("16-bit grayscale PNG",
     lambda e: png(e.dir, pixels=np.full((20, 20), 40000, np.uint16)), {}),
    ("CMYK JPEG", lambda e: (lambda p: (Image.fromarray(photo("coffee")[:32, :32]).convert(
        "CMYK").save(p), p)[1])(os.path.join(e.dir, "cmyk.jpg")), {}),
    ("palette PNG", lambda e: (lambda p: (Image.fromarray(photo("coffee")[:32, :32]).convert(
        "P").save(p), p)[1])(os.path.join(e.dir, "p.png")), {}),
    ("RGBA PNG with transparency",
     lambda e: png(e.dir, pixels=np.dstack([photo("coffee")[:32, :32],
                                            np.arange(32 * 32, dtype=np.uint8).reshape(32, 32)])),
     {}),
    ("RGBA PNG, fully opaque",
     lambda e: png(e.dir, pixels=np.dstack([photo("coffee")[:32, :32],
                                            np.full((32, 32), 255, np.uint8)])), {}),
    ("grayscale PNG", lambda e: png(e.dir, pixels=photo("coffee")[:32, :32, 0]), {}),
    ("output file exists (no --overwrite)",
     lambda e: (open(os.path.join(e.dir, "photo.png.cmpr"), "w").write("mine"),
                png(e.dir))[1], {"keep": "photo.png.cmpr"}),
    ("output path is the input", lambda e: png(e.dir), {"output": "photo.png",
                                                       "overwrite": True}),
]

TRAINING = [
    ("no file matches --train_glob", lambda e: os.path.join(e.dir, "*.png"), {}),
    ("no readable image among the files", lambda e: (
        open(os.path.join(e.dir, "a.jpg"), "w").write("x"), os.path.join(e.dir, "*"))[1], {}),
]


class Env:
  def __init__(self, directory, model, model_dir):
    self.dir, self.model, self.model_dir = str(directory), model, model_dir


def empty_folder(directory):
  path = os.path.join(directory, "empty")
  os.makedirs(path, exist_ok=True)
  return path


def outcome(command, case, env):
  """Runs one case; returns what the user is told. Checks nothing is left behind."""
  what, setup, options = case
  path = setup(env)
  before = set(os.listdir(env.dir))
  keep = options.get("keep")
  try:
    if command == "compress" and os.path.isdir(path):
      compress_folder(env.model, path)
      return "compressed a folder"
    if command == "decompress" and os.path.isdir(path):
      decompress_folder(env.model, path)
      return "decoded a folder"
    if command == "compress":
      output = os.path.join(env.dir, options.get("output", os.path.basename(path) + ".cmpr"))
      stats = compress_file(env.model, path, output, options.get("overwrite", False),
                            **({"max_pixels": options["max_pixels"]}
                               if "max_pixels" in options else {}))
      result = "compressed"
      if stats.notes:
        result += "; note: " + "; ".join(stats.notes)
      return result + f"; decodes as {stats.layout}"
    if command == "decompress":
      model = (ModelFinder(search_path=[os.path.dirname(env.model_dir)])
               if options.get("resolve") else env.model)
      decompress_file(model, path, os.path.join(env.dir, "photo.decoded.png"))
      return "decoded"
    train(os.path.join(env.dir, "model"), TINY, TrainingConfig(train_glob=path, steps=1))
    return "trained"
  except CompressorError as e:
    left = set(os.listdir(env.dir)) - before
    assert not left, f"{what}: left {left} behind"
    if keep:
      assert open(os.path.join(env.dir, keep)).read() == "mine"
    message = str(e).replace(env.dir + os.sep, "").replace(env.dir, ".")
    return "error: " + re.sub(r"[0-9a-f]{32}", "<fingerprint>", message)


def all_outcomes(tmp_path_factory, model, model_dir):
  rows = []
  for command, cases in (("decompress", DECODER), ("compress", ENCODER),
                         ("train", TRAINING)):
    for case in cases:
      env = Env(tmp_path_factory.mktemp("case"), model, model_dir)
      rows.append((command, case[0], outcome(command, case, env)))
  return rows


def render(rows):
  lines = [BEGIN, "| command | input or fault | what the user gets |", "| --- | --- | --- |"]
  lines += [f"| {c} | {w} | {o.replace('|', '/')} |" for c, w, o in rows]
  return "\n".join(lines + [END])


@pytest.fixture(scope="module")
def rows(tmp_path_factory, photo_dir):
  # A seeded model exported before any step: its weights, and so the file sizes the
  # table quotes, are the same in every run. (A trained one's are not: a few steps
  # on several threads are not bit-reproducible.)
  model_dir = str(tmp_path_factory.mktemp("seeded") / "tiny")
  train(model_dir, TINY, TrainingConfig(train_glob=str(photo_dir / "*.png"), steps=0, seed=0),
        name="tiny")
  return all_outcomes(tmp_path_factory, load_model(model_dir), model_dir)


def test_every_decoder_fault_is_a_clean_error(rows):
  for command, what, result in rows:
    if command == "decompress":
      assert result.startswith("error: "), (what, result)


@pytest.mark.parametrize("what,expected", [
    ("empty file", "file is empty"),
    ("truncated file (half of it)", "truncated"),
    ("a PNG, not a bitstream", "wrong magic"),
    ("wrong magic number", "wrong magic"),
    ("unknown future format version", "unsupported format version 4"),
    ("header claiming 10^6 x 10^6 pixels", "header claims an image of 1000000x1000000"),
    ("header claiming 20000 x 20000 pixels (valid, over the memory limit)",
     "over the limit of 268435456"),
    ("payload length beyond the end of the file", "truncated: header announces"),
    ("one bit flipped in the payload (bad CRC)", "checksum mismatch"),
    ("one bit flipped in the header", "checksum mismatch"),
    ("made by a model that is not installed", "which is not installed"),
    ("made by another model than --model", "not by the given model"),
    ("a folder without .cmpr files", "no .cmpr files in empty"),
    ("missing file", "no such file"),
    ("output file exists (no --overwrite)", "exists; pass --overwrite"),
])
def test_decoder_messages_name_the_problem(rows, what, expected):
  result = dict((w, o) for c, w, o in rows if c == "decompress")[what]
  assert expected in result


@pytest.mark.parametrize("what,expected", [
    ("missing file", "error: missing.png: no such file"),
    ("a folder without images", "no image files in empty"),
    ("a text file named .png", "not an image Pillow can read"),
    ("truncated PNG", "corrupt or unreadable"),
    ("zero-size image (PNG header says 0 x 0)", "not an image Pillow can read"),
    ("decompression bomb (over --max_pixels)", "over the limit of 1000"),
    ("16-bit grayscale PNG", "I;16 image reduced to 8 bits"),
    ("CMYK JPEG", "CMYK image converted to RGB"),
    ("palette PNG", "palette image converted to RGB"),
    ("RGBA PNG with transparency", "compressed; decodes as RGBA"),
    ("RGBA PNG, fully opaque", "fully opaque and was dropped; decodes as RGB"),
    ("grayscale PNG", "compressed; decodes as L"),
    ("output file exists (no --overwrite)", "exists; pass --overwrite"),
    ("output path is the input", "refusing to overwrite the input"),
])
def test_encoder_outcomes(rows, what, expected):
  result = dict((w, o) for c, w, o in rows if c == "compress")[what]
  assert expected in result


def test_training_data_faults(rows):
  results = dict((w, o) for c, w, o in rows if c == "train")
  assert "no files match" in results["no file matches --train_glob"]
  assert "none of the 1 files" in results["no readable image among the files"]


def test_readme_table_is_current(rows):
  table = render(rows)
  text = open(ROBUSTNESS_DOC).read()
  if os.environ.get("COMPRESSOR_UPDATE_DOCS"):
    start, end = text.index(BEGIN), text.index(END) + len(END)
    with open(ROBUSTNESS_DOC, "w") as f:
      f.write(text[:start] + table + text[end:])
    text = table
  assert table in text, (
      "docs/robustness.md's hostile-input table is stale: see this module's docstring")
