"""scripts/publish_family_curve.py: a new family's curve replaces the old one in the docs."""

import json

import numpy as np
import pytest
from test_cli import run

from compressor.evaluation.rate_distortion import bd_table

OTHERS = ("mbt2018-mean", "bmshj2018-hyperprior", "jpeg-444", "webp", "avif", "jpeg2000",
          "jpeg-420")


def _curve(name, gain_db):
  """A curve of PSNR = 10 log10(bpp) + 30 + gain_db: other gains make other BD-rates."""
  bpp = [0.1, 0.3, 0.6, 1.0, 1.5]
  psnr = [10 * np.log10(b) + 30 + gain_db for b in bpp]
  return dict(name=name, description=name,
              results={"bpp": bpp, "psnr-rgb": psnr,
                       "ms-ssim-rgb": [1 - 10 ** (-p / 10) for p in psnr]})


def _write(path, data):
  path.write_text(json.dumps(data))


def test_publish_keeps_the_replaced_family_and_recomputes_the_tables(tmp_path):
  docs = tmp_path / "cbsd68"
  docs.mkdir()
  family = "bmshj2018-factorized"
  _write(docs / f"{family}.json", _curve(family, 1.0))
  _write(docs / f"{family}-2026-11-24.json", _curve(f"{family}-2026-11-24", -2.0))
  for i, name in enumerate(OTHERS):
    _write(docs / f"{name}.json", _curve(name, 0.5 * i - 1))
  for date in ("2026-11-24", "2026-12-03"):
    _write(docs / f"bd_table_vs_{family}-{date}.json", [])
  new = tmp_path / "new.json"
  _write(new, _curve("from evaluate", 1.5))
  args = ["--curve", new, "--replaced_date", "2026-12-04", "--description", "the new one",
          "--docs_dir", docs, "--plot", tmp_path / "rd.png", "--references", tmp_path / "none"]
  result = run("publish_family_curve", *args, script=True)
  assert result.returncode == 0, result.stderr

  current = json.loads((docs / f"{family}.json").read_text())
  replaced = json.loads((docs / f"{family}-2026-12-04.json").read_text())
  assert current["description"] == "the new one" and current["name"] == family
  assert current["results"] == _curve("", 1.5)["results"]
  assert replaced["name"] == f"{family}-2026-12-04"
  assert replaced["results"] == _curve("", 1.0)["results"]
  table = json.loads((docs / "bd_table_vs_jpeg-420.json").read_text())
  assert [row["curve"] for row in table] == [
      family, f"{family}-2026-12-04", f"{family}-2026-11-24", *OTHERS[:-1]]
  expected = bd_table([current, replaced, _curve(f"{family}-2026-11-24", -2.0)] +
                      [_curve(name, 0.5 * i - 1) for i, name in enumerate(OTHERS)], "jpeg-420")
  assert len(table) == len(expected)
  for row, want in zip(table, expected):
    assert row.pop("curve") == want.pop("curve") and row.pop("anchor") == want.pop("anchor")
    assert row == pytest.approx(want)
  # 0.5 dB better everywhere: fewer bits for the same PSNR.
  against_replaced = json.loads((docs / f"bd_table_vs_{family}-2026-12-04.json").read_text())
  assert [row["curve"] for row in against_replaced] == [family, "webp", "jpeg-420"]
  assert against_replaced[0]["bd_psnr"] == pytest.approx(0.5)
  assert not (docs / f"bd_table_vs_{family}-2026-12-03.json").exists()
  assert (docs / f"bd_table_vs_{family}-2026-11-24.json").exists()
  assert (tmp_path / "rd.png").stat().st_size > 0

  # Publishing over the same date again would lose the kept family: refused, nothing changed.
  before = {path.name: path.read_bytes() for path in docs.iterdir()}
  again = run("publish_family_curve", *args, script=True)
  assert again.returncode != 0 and "already kept" in again.stderr
  assert {path.name: path.read_bytes() for path in docs.iterdir()} == before
