"""The pace of long work (training steps, files, refinement iterations) and its time left."""

import math
import time

__all__ = ["Pace", "format_duration"]


def format_duration(seconds):
  """'42s', '3m05s' or '2h07m': a time left as a progress line shows it."""
  if not math.isfinite(seconds):
    return "?"
  seconds = int(seconds)
  if seconds >= 3600:
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
  if seconds >= 60:
    return f"{seconds // 60}m{seconds % 60:02d}s"
  return f"{seconds}s"


class Pace:
  """Units of work done per second since a start, and the time until `total` are done."""

  def __init__(self, total, done=0, start=None):
    self.total = total
    self.start_done = done
    self.start = time.monotonic() if start is None else start

  def rate(self, done, now=None):
    """Units per second from the start to `now` (default: the present)."""
    now = time.monotonic() if now is None else now
    return (done - self.start_done) / max(now - self.start, 1e-9)

  def eta(self, done, now=None, seconds_left=None):
    """Seconds until `total` is done at this pace, or until `seconds_left` run out if sooner."""
    rate = self.rate(done, now)
    eta = (self.total - done) / rate if rate > 0 else float("inf")
    return eta if seconds_left is None else min(eta, max(seconds_left, 0.0))
