"""Widening a trained factorized model: more channels that compute, at first, what it computed.

A top quality level can run out of channels (at 1.5 bpp all 128 latent channels
of the default family carry bits), and a wider model trained from scratch would
need as many steps again. A wider model made from the narrow one starts where
it is (Net2Net's idea, Chen, Goodfellow & Shlens, 2016): every old weight in its
place, and each new channel connected so that it cannot change what the old
ones compute:

- a new hidden channel of a transform gets fresh (random) incoming kernels, but
  zero outgoing ones: the next convolution ignores it until training makes them
  nonzero. GDN and IGDN start with gamma a multiple of the identity, so a new
  channel's normalization neither feeds nor is fed by the old ones;
- a new latent channel gets zero incoming kernels, so it is exactly zero and
  decodes to nothing however the synthesis weights it (those weights stay
  fresh, so that gradients reach the analysis through them), and a prior
  narrow around zero (a logistic of scale `NEW_LATENT_SCALE`), under which a
  zero costs about 10^-4 bits, where a fresh prior would charge bits for it.

The widened model gives the narrow one's reconstructions up to float rounding,
and its rate plus about 10^-4 bits per new latent.
"""

import dataclasses

import numpy as np
import tensorflow_compression as tfc

from compressor.errors import ModelError

__all__ = ["NEW_LATENT_SCALE", "WIDTHS", "widen", "widened_config"]

# The config fields that widening may increase.
WIDTHS = ("num_filters", "latent_channels")
# Scale of the logistic prior of each new latent channel: narrow, so that a zero is nearly
# free (tanh(0.25 / scale) is the probability of its quantization bin), yet wide enough
# for its parameters to learn a wider density in a few thousand steps.
NEW_LATENT_SCALE = 0.05
# Its median: not zero, where tfc's median search (which sets the quantization offsets) would
# start at its answer and never stop while other channels' searches go on.
NEW_LATENT_MEDIAN = 2.0 ** -16


def widened_config(config, **widths):
  """`config` with the given WIDTHS, each at least the config's own; a ModelError otherwise."""
  unknown = sorted(set(widths) - set(WIDTHS))
  if unknown:
    raise ModelError(f"widening changes only {' and '.join(WIDTHS)}, not {', '.join(unknown)}")
  if config.architecture != "factorized":
    raise ModelError(f"only factorized models can be widened, not {config.architecture}")
  narrower = [f"{name} {value} < {getattr(config, name)}" for name, value in widths.items()
              if value < getattr(config, name)]
  if narrower:
    raise ModelError(f"widening cannot remove channels: {', '.join(narrower)}")
  return dataclasses.replace(config, **widths)


def _assign(variable, update):
  """Sets a variable to `update(its value as a numpy array)`."""
  value = variable.numpy()
  update(value)
  variable.assign(value)


def _copy_into(source_variable, variable):
  """The source's values in the leading corner of the (larger) variable; the rest stays."""
  source = source_variable.numpy()
  def update(value):
    value[tuple(slice(0, n) for n in source.shape)] = source
  _assign(variable, update)


def _zero_kernel(layer, inputs=slice(None), outputs=slice(None)):
  """Zeroes a convolution's kernel from these input channels to these output channels.

  The RDFT parameter holds a Fourier transform of each (input, output) pair's
  spatial kernel, on its first two axes: zero there is a zero kernel.
  """
  for part in (layer.kernel_parameter.real, layer.kernel_parameter.imag):
    def update(value):
      value[inputs, outputs] = 0.0
    _assign(part, update)


def _widen_transform(source, target, zero_new_outputs_of_last):
  """Copies each layer's weights, and cuts the new channels off from the old outputs."""
  for i, (old, new) in enumerate(zip(source.layers, target.layers)):
    if not isinstance(old.kernel_parameter, tfc.RDFTParameter):
      raise ModelError("widening needs the transforms' RDFT kernels")
    for source_variable, variable in zip(old.variables, new.variables):
      _copy_into(source_variable, variable)
    old_in, old_out = old.kernel_parameter.real.shape[:2]
    # The first layer's inputs are never new channels: the image's, or latents that stay zero.
    if i > 0:
      _zero_kernel(new, inputs=slice(old_in, None), outputs=slice(0, old_out))
    if zero_new_outputs_of_last and i == len(target.layers) - 1:
      _zero_kernel(new, outputs=slice(old_out, None))


def _widen_prior(source, target):
  """The old channels' densities, then narrow logistics at zero for the new ones."""
  channels = source.batch_shape.num_elements()
  added = target.batch_shape.num_elements() - channels
  if not added:
    for source_variable, variable in zip(source.variables, target.variables):
      variable.assign(source_variable)
    return
  # With zero factors each layer of the density is linear, and its cumulative a
  # logistic of scale init_scale; the last bias puts its median at NEW_LATENT_MEDIAN.
  narrow = tfc.NoisyDeepFactorized(batch_shape=(added,), num_filters=source.base.num_filters,
                                   init_scale=NEW_LATENT_SCALE)
  last_bias = f"bias_{len(source.base.num_filters)}"
  for source_variable, new_variable, variable in zip(source.variables, narrow.variables,
                                                      target.variables):
    fresh = new_variable.numpy()
    if "matrix" not in variable.name:
      fresh[:] = 0.0
    if last_bias in variable.name:
      fresh[:] = -NEW_LATENT_MEDIAN / NEW_LATENT_SCALE
    variable.assign(np.concatenate([source_variable.numpy(), fresh]))


def widen(source, target):
  """Gives `target`, a wider model of `source`'s config (`widened_config`), source's function.

  The target's weights must be freshly initialized (`create_model`), not allocated for
  loading: the new channels keep their fresh incoming weights.
  """
  expected = widened_config(source.config, **{name: getattr(target.config, name)
                                              for name in WIDTHS})
  if target.config != expected:
    raise ModelError("the target is not a widening of the source: configs "
                     f"{source.config.to_dict()} and {target.config.to_dict()}")
  _widen_transform(source.analysis, target.analysis, zero_new_outputs_of_last=True)
  _widen_transform(source.synthesis, target.synthesis, zero_new_outputs_of_last=False)
  _widen_prior(source.prior, target.prior)
