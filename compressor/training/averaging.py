"""An exponential moving average of a model's weights, which training can export instead."""

import contextlib

import tensorflow as tf

__all__ = ["WeightAverage"]


class WeightAverage(tf.Module):
  """Shadow copies of `variables` that follow them as an exponential moving average.

  Each update sets shadow = d * shadow + (1 - d) * variable with
  d = min(decay, (1 + n) / (10 + n)) after n earlier updates, as
  tf.train.ExponentialMovingAverage does with num_updates: the weights a run
  starts from are forgotten quickly at first. A tf.Module, so that a
  checkpoint holds the shadows and the count with the weights.
  """

  def __init__(self, variables, decay):
    super().__init__(name="weight_average")
    self.decay = float(decay)
    # Not tracked: the checkpoint holds the variables already, as the model's.
    self.__dict__["sources"] = list(variables)
    self.updates = tf.Variable(0, dtype=tf.int64, trainable=False, name="updates")
    self.shadows = [tf.Variable(v, trainable=False, name="shadow") for v in self.sources]

  def update(self):
    """One step of the average towards the variables' present values."""
    n = tf.cast(self.updates, tf.float32)
    decay = tf.minimum(self.decay, (1.0 + n) / (10.0 + n))
    for shadow, variable in zip(self.shadows, self.sources):
      shadow.assign(decay * shadow + (1.0 - decay) * variable)
    self.updates.assign_add(1)

  def restart(self):
    """Starts the average afresh from the variables (after weights came from elsewhere)."""
    for shadow, variable in zip(self.shadows, self.sources):
      shadow.assign(variable)
    self.updates.assign(0)

  @contextlib.contextmanager
  def swapped_in(self):
    """Within the block the variables hold the average; afterwards their own values again."""
    own = [tf.identity(variable) for variable in self.sources]
    for shadow, variable in zip(self.shadows, self.sources):
      variable.assign(shadow)
    try:
      yield
    finally:
      for value, variable in zip(own, self.sources):
        variable.assign(value)
