"""The learning curve: BD figures of each point against its anchors, and the JSON it keeps."""

import json

import pytest

from compressor.evaluation.learning_curve import add_point, curve_point


def curve(name, bpp, psnr):
  return {"name": name, "results": {"bpp": bpp, "psnr-rgb": psnr}}


ANCHOR = curve("jpeg-420", [0.3, 0.6, 1.0, 1.6], [25.0, 28.0, 30.5, 33.0])


def test_a_point_holds_each_level_and_bd_figures_against_every_anchor():
  # Half the anchor's rate at every quality: -50% BD-rate; the same curve: 0.
  half = curve("family", [r / 2 for r in ANCHOR["results"]["bpp"]],
               ANCHOR["results"]["psnr-rgb"])
  far = curve("webp", [5.0, 6.0, 7.0], [40.0, 41.0, 42.0])
  levels = [(1, 0.001, 900), (2, 0.004, 910), (3, 0.013, 905), (4, 0.045, 920)]
  point = curve_point(half, [ANCHOR, far], levels, machine_hours=1.5, date="2026-12-01")
  assert point["bd_rate_vs_jpeg-420"] == pytest.approx(-50.0, abs=1e-6)
  assert point["bd_psnr_vs_jpeg-420"] > 0
  # No common quality range with the second anchor: no figure rather than a made-up one.
  assert point["bd_rate_vs_webp"] is None
  assert point["total_steps"] == 920
  assert [lv["bpp"] for lv in point["levels"]] == half["results"]["bpp"]
  assert [lv["lambda"] for lv in point["levels"]] == [0.001, 0.004, 0.013, 0.045]
  with pytest.raises(ValueError, match="3 levels but 4 points"):
    curve_point(half, [ANCHOR], levels[:3], machine_hours=1.5, date="2026-12-01")


def test_points_are_kept_in_step_order_and_a_stretch_replaces_its_own(tmp_path):
  path = str(tmp_path / "curve.json")
  def point(date, steps, hours=1.0):
    return curve_point(ANCHOR, [], [(1, 0.01, steps)] * 4, hours, date)
  add_point(path, point("2026-12-01", 9000))
  add_point(path, point("2026-11-24", 2600))
  add_point(path, point("2026-12-01", 12000))
  # The same stretch measured again replaces its point; another on the same day does not.
  points = add_point(path, point("2026-12-01", 9000, hours=2.0))
  assert [(p["date"], p["total_steps"], p["machine_hours"]) for p in points] == [
      ("2026-11-24", 2600, 1.0), ("2026-12-01", 9000, 2.0), ("2026-12-01", 12000, 1.0)]
  with open(path) as f:
    assert json.load(f)["points"] == points
