"""Progress lines: the pace of work, its time left, and how that time is written."""

import pytest

from compressor.progress import Pace, format_duration


def test_pace_is_units_per_second_since_its_start():
  pace = Pace(total=1000, done=100, start=10.0)
  assert pace.rate(300, now=110.0) == pytest.approx(2.0)
  # 700 units left at 2 per second.
  assert pace.eta(300, now=110.0) == pytest.approx(350.0)


def test_eta_is_the_earlier_of_the_last_unit_and_the_time_budget():
  pace = Pace(total=1000, start=0.0)
  assert pace.eta(200, now=100.0) == pytest.approx(400.0)
  assert pace.eta(200, now=100.0, seconds_left=120.0) == 120.0
  assert pace.eta(200, now=100.0, seconds_left=900.0) == pytest.approx(400.0)
  # A budget already used up ends the work at the next check, not in the past.
  assert pace.eta(200, now=100.0, seconds_left=-3.0) == 0.0


def test_no_progress_yet_has_no_finite_eta():
  pace = Pace(total=10, start=0.0)
  assert pace.eta(0, now=5.0) == float("inf")
  assert format_duration(pace.eta(0, now=5.0)) == "?"


@pytest.mark.parametrize("seconds, text", [
    (0, "0s"), (42.9, "42s"), (60, "1m00s"), (185, "3m05s"), (3599, "59m59s"),
    (3600, "1h00m"), (7620, "2h07m")])
def test_durations_read_as_seconds_minutes_or_hours(seconds, text):
  assert format_duration(seconds) == text
