"""Encoder effort: one image's latents optimized for the model's own rate-distortion loss.

The analysis transform predicts latents that are good on average over the
training set. For one image, gradient descent on `bpp + lambda * MSE`
(the training loss, with the model's entropy models and synthesis fixed)
finds latents that code it in fewer bits at the same quality (Campos et al.
2019; Yang, Bamler & Mandt, NeurIPS 2020). The decoder and the bitstream do
not change: the refined latents are rounded and range-coded as before.

Rounding is relaxed with stochastic Gumbel annealing (SGA, Yang et al.): each
latent goes to its floor or its ceiling with a Gumbel-softmax weight whose
temperature falls during the run, so the latents end near values that are
good after the coder's hard rounding. For the hyperprior models the side
information is refined jointly with the latents, its rounding relaxed the same
way; the latents' entropy parameters follow from it through the
hyper-synthesis, as in the decoder.
"""

import dataclasses
import math
import time
import weakref

import tensorflow as tf
import tensorflow_compression as tfc
from absl import logging

from compressor.errors import CompressorError
from compressor.nn.hyperprior import NUM_SCALES, ScaleHyperpriorModel, scale_at
from compressor.nn.loss import rate_distortion_loss
from compressor.nn.tiling import DEFAULT_TILE_SIZE, tiles_needed
from compressor.progress import Pace, format_duration

__all__ = [
    "EFFORT_LEVELS",
    "Refinement",
    "Schedule",
    "check_effort",
    "encode",
    "lowered_effort_note",
    "refine",
]


@dataclasses.dataclass(frozen=True)
class Schedule:
  """Adam steps on the latents, with the SGA temperature falling exponentially."""

  iterations: int
  learning_rate: float = 5e-3
  tau_start: float = 0.5
  tau_end: float = 0.05


# Chosen by measurement on CBSD68 crops (docs/effort.md): for short
# runs 2e-2 beat 1e-2 and 5e-3; ending the temperature at 0.01 did worse than 0.05.
EFFORT_LEVELS = {
    1: Schedule(iterations=50, learning_rate=2e-2),
    2: Schedule(iterations=150, learning_rate=2e-2),
    3: Schedule(iterations=500, learning_rate=1e-2),
}

# Encodes expected to take longer than this log a progress line.
_PROGRESS_AFTER = 3.0
_PROGRESS_EVERY = 5.0
_ADAM_BETAS = (0.9, 0.999)
_ADAM_EPSILON = 1e-8
# SGA's rounding weights need atanh of the distance to floor and ceiling, kept finite.
_SGA_EPSILON = 1e-5


def check_effort(effort):
  """Refuses an effort level without a schedule."""
  if effort != 0 and effort not in EFFORT_LEVELS:
    raise CompressorError(f"effort {effort} is not one of 0, "
                          + ", ".join(map(str, sorted(EFFORT_LEVELS))))


def lowered_effort_note(model, height, width, tile_size, effort):
  """Why an image is coded at effort 0 although more was asked, or None.

  Refinement holds the whole image's synthesis and its gradients in memory,
  which tiling exists to avoid, so images coded in tiles are not refined.
  """
  if effort and tiles_needed(model.config, height, width, tile_size):
    return (f"effort {effort} lowered to 0 for this {width}x{height} image: refinement "
            f"works on whole images, and it is coded in {tile_size}-pixel tiles "
            "(--tile_size 0 refines it whole, in memory that grows with the image)")
  return None


@dataclasses.dataclass
class Refinement:
  """Refined, hard-rounded tensors of one image, and what the refinement achieved."""

  coded: list  # the tensors to range-code, in coding order (side information first)
  latents: tf.Tensor  # the rounded latents the decoder will synthesize
  loss: float  # bpp + lambda * MSE estimated by the model, after hard rounding
  initial_loss: float  # the same for the analysis transform's latents (effort 0)
  iterations: int
  seconds: float


def _offset(x, offset):
  return x if offset is None else x - offset


def _hard_round(x, offset):
  """The coder's rounding: to integers shifted by the offset."""
  rounded = tf.round(_offset(x, offset))
  return rounded if offset is None else rounded + offset


def _sga_round(x, offset, tau, seed):
  """A sample of SGA's relaxed rounding: floor or ceiling, softly, with Gumbel noise."""
  x = _offset(x, offset)
  floor = tf.floor(x)
  fraction = tf.clip_by_value(x - floor, _SGA_EPSILON, 1.0 - _SGA_EPSILON)
  # A latent close to its floor favours the floor; tau -> 0 makes the choice hard.
  logits = tf.stack([-tf.atanh(fraction), -tf.atanh(1.0 - fraction)], axis=-1) / tau
  uniform = tf.random.stateless_uniform(tf.shape(logits), seed, minval=1e-9, maxval=1.0)
  weights = tf.nn.softmax((logits - tf.math.log(-tf.math.log(uniform))) / tau, axis=-1)
  rounded = floor + weights[..., 1]
  return rounded if offset is None else rounded + offset


def _bits(log_probs):
  return -tf.reduce_sum(log_probs) / math.log(2.0)


class _Refiner:
  """The graphs that refine one model's latents: a relaxed step and a hard evaluation."""

  def __init__(self, model):
    self.model = model
    self.hyperprior = isinstance(model, ScaleHyperpriorModel)
    self.lmbda = float(model.metadata.get("lambda", 0.01))
    self.step = tf.function(self._step, reduce_retracing=True)
    self.hard = tf.function(self._hard, reduce_retracing=True)
    self.initial = tf.function(self._initial, reduce_retracing=True)

  def _side_offset(self):
    return self.model.coders["side"].quantization_offset

  def _initial(self, image):
    """The analysis transform's latents (and unrounded side information): the start."""
    model = self.model
    latents = model.analysis(model._padded(image) / 255.0)
    if not self.hyperprior:
      return [latents]
    return [latents, model.hyper_analysis(model._hyper_input(latents))]

  def _rate_and_latents(self, variables, round_fn, parameters_fn):
    """(bits, rounded latents, the tensors to code) of the variables rounded by round_fn."""
    model = self.model
    if not self.hyperprior:
      latents = round_fn(variables[0], model.coders["latents"].quantization_offset)
      return _bits(model.prior.log_prob(latents)), latents, [latents]
    latents, side = variables
    side = round_fn(side, self._side_offset())
    side_bits = _bits(model.side_prior.log_prob(side))
    parameters = parameters_fn(side, tf.shape(latents)[1:3])
    indexes, means = model._conditionals(parameters, training=True)
    # The coder uses the rounded, clipped index: its rate is what counts.
    indexes = tf.clip_by_value(tfc.round_st(indexes), 0.0, NUM_SCALES - 1.0)
    latents = round_fn(latents, means)
    prior = tfc.NoisyNormal(loc=0.0 if means is None else means, scale=scale_at(indexes))
    return _bits(prior.log_prob(latents)) + side_bits, latents, [side, latents]

  def _loss(self, image, latents_hat, bits):
    """(bpp + lambda * MSE, bpp, MSE) on the image's own pixels, as the decoder clips them."""
    height, width = tf.shape(image)[0], tf.shape(image)[1]
    reconstruction = self.model.synthesis(latents_hat)[0, :height, :width] * 255.0
    return rate_distortion_loss(image, tf.clip_by_value(reconstruction, 0.0, 255.0), bits,
                                self.lmbda)

  def _step(self, image, variables, moments, iteration, tau, learning_rate, seed):
    """One Adam step on the SGA-relaxed loss; returns the new state and (loss, bpp, mse)."""
    with tf.GradientTape() as tape:
      tape.watch(variables)
      seeds = [seed + i for i in range(len(variables))]
      round_fn = lambda x, offset: _sga_round(x, offset, tau, [seeds.pop(), iteration])
      parameters_fn = self.model._parameters if self.hyperprior else None
      bits, latents_hat, _ = self._rate_and_latents(variables, round_fn, parameters_fn)
      loss, bpp, mse = self._loss(image, latents_hat, bits)
    gradients = tape.gradient(loss, variables)
    beta1, beta2 = _ADAM_BETAS
    step = tf.cast(iteration + 1, tf.float32)
    correction = tf.sqrt(1.0 - beta2 ** step) / (1.0 - beta1 ** step)
    new_variables, new_moments = [], []
    for x, g, (m, v) in zip(variables, gradients, moments):
      m = beta1 * m + (1.0 - beta1) * g
      v = beta2 * v + (1.0 - beta2) * tf.square(g)
      new_variables.append(x - learning_rate * correction * m / (tf.sqrt(v) + _ADAM_EPSILON))
      new_moments.append((m, v))
    return new_variables, new_moments, (loss, bpp, mse)

  def _hard(self, image, variables):
    """(loss, coded tensors, rounded latents) after the coder's rounding."""
    # The entropy parameters come from the graph the decoder uses.
    parameters_fn = self.model._entropy_parameters if self.hyperprior else None
    bits, latents_hat, coded = self._rate_and_latents(variables, _hard_round, parameters_fn)
    return self._loss(image, latents_hat, bits)[0], coded, latents_hat


_refiners = weakref.WeakKeyDictionary()


def _refiner(model):
  if model not in _refiners:
    _refiners[model] = _Refiner(model)
  return _refiners[model]


def refine(model, rgb, effort, seed=0):
  """Refines the latents of an HxWx3 uint8 image at an effort level; returns a Refinement.

  Deterministic for a given seed. The result is never worse, by the model's
  own hard-rounded loss, than the analysis transform's latents.
  """
  check_effort(effort)
  schedule = EFFORT_LEVELS[effort]
  refiner = _refiner(model)
  image = tf.constant(rgb)
  start = time.monotonic()
  variables = refiner.initial(image)
  initial = refiner.hard(image, variables)
  best = initial
  moments = [(tf.zeros_like(x), tf.zeros_like(x)) for x in variables]
  decay = math.log(schedule.tau_end / schedule.tau_start) / max(schedule.iterations - 1, 1)
  last_log = pace = None
  for i in range(schedule.iterations):
    tau = schedule.tau_start * math.exp(decay * i)
    variables, moments, (loss, bpp, mse) = refiner.step(
        image, variables, moments, tf.constant(i), tf.constant(tau, tf.float32),
        tf.constant(schedule.learning_rate, tf.float32), tf.constant(seed))
    now = time.monotonic()
    if pace is None:  # The pace is measured after the first step, which builds the graph.
      last_log, pace = now, Pace(schedule.iterations, 1, now)
      continue
    eta = pace.eta(i + 1, now)
    if now - last_log > _PROGRESS_EVERY or (i == 1 and eta > _PROGRESS_AFTER):
      last_log = now
      psnr = 10 * math.log10(255.0 ** 2 / max(float(mse), 1e-10))
      logging.info("refining latents (effort %d): iteration %d/%d, %.4f bpp, %.2f dB, "
                   "%.1f it/s, ETA %s", effort, i + 1, schedule.iterations, float(bpp),
                   psnr, pace.rate(i + 1, now), format_duration(eta))
  final = refiner.hard(image, variables)
  if float(final[0]) < float(best[0]):
    best = final
  return Refinement(coded=list(best[1]), latents=best[2], loss=float(best[0]),
                    initial_loss=float(initial[0]), iterations=schedule.iterations,
                    seconds=time.monotonic() - start)


def encode(model, rgb, effort=0, tile_size=DEFAULT_TILE_SIZE):
  """As model.encode, with the latents refined at `effort` (0: model.encode itself).

  An image coded in tiles is not refined: lowered_effort_note says why.
  """
  check_effort(effort)
  height, width = rgb.shape[:2]
  if effort == 0 or lowered_effort_note(model, height, width, tile_size, effort):
    return model.encode(rgb, tile_size=tile_size)
  return model.encode_tensors(refine(model, rgb, effort).coded)
