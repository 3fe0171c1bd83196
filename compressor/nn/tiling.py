"""Running the transforms tile by tile, so that memory does not grow with the image."""

import math

import numpy as np

__all__ = [
    "DEFAULT_TILE_SIZE",
    "SYNTHESIS_TILE_FRACTION",
    "TILEABLE_NORMALIZATIONS",
    "analyze_in_bands",
    "context",
    "rebanded",
    "synthesize_in_bands",
    "tiles_needed",
]

# Side of a tile's core in pixels. With its context, the first stage's output
# of a 128-filter model is then 544x544x128 floats (0.15 GB), and the context
# adds 13% to the analysis's work.
DEFAULT_TILE_SIZE = 1024

# A latent must depend only on the pixels around it for tiles to give the
# whole-image result: GDN and ReLU act on each position alone, while group,
# instance and layer normalization take statistics over the whole map.
TILEABLE_NORMALIZATIONS = ("gdn", "gdn-sqrt", "relu")


def context(config):
  """(pixels, latents) of context a tile needs on each side to compute its core exactly.

  An analysis output sees sum_i (k_i // 2) * (product of the strides before
  stage i) pixels on each side of its centre; that is rounded up to whole
  latents, so that every tile starts on the latent grid. The synthesis mirrors
  the analysis, so its outputs see about as many latents; one more covers the
  phase of each transposed convolution.
  """
  radius, step = 0, 1
  for kernel, stride in zip(config.kernel_sizes, config.strides):
    radius += (kernel // 2) * step
    step *= stride
  latents = math.ceil(radius / config.downsampling)
  return latents * config.downsampling, latents + 1


def tiles_needed(config, height, width, tile_size):
  """Whether an image must be coded in tiles: it is larger than one tile and tiles are exact."""
  return (config.normalization in TILEABLE_NORMALIZATIONS and tile_size is not None
          and max(height, width) > tile_size)


def _tile_latents(config, tile_size):
  """Latents on a tile's side: tile_size rounded down to the latent grid, at least one."""
  return max(tile_size // config.downsampling, 1)


# The synthesis's tiles have half the side of the analysis's: per pixel it holds
# about twice the memory (with the bundled models 1.3 GiB for a 1024-pixel tile,
# 0.45 GiB for a 512-pixel one, against about 0.7 GiB for the analysis of a
# 1024-pixel tile), and the smaller tiles cost about 10% more decoding time.
SYNTHESIS_TILE_FRACTION = 2


def analyze_in_bands(analyze_tile, image, config, tile_size):
  """Yields the latents of an HxWx3 uint8 image as bands of latent rows, top to bottom.

  `analyze_tile` maps an hxwx3 uint8 crop to its [1, h', w', C] latents. Each
  tile is cut with `context` pixels around its core; past the image's last row
  and column the crop repeats them, as the whole-image padding does. Together
  the bands are the whole-image latents up to float rounding.
  """
  height, width = image.shape[:2]
  factor = config.downsampling
  halo, _ = context(config)
  latent_height, latent_width = config.latent_size(height, width)
  step = _tile_latents(config, tile_size)
  for top in range(0, latent_height, step):
    bottom = min(top + step, latent_height)
    y0, y1 = max(top * factor - halo, 0), min(bottom * factor + halo, latent_height * factor)
    rows = np.minimum(np.arange(y0, y1), height - 1)
    band = []
    for left in range(0, latent_width, step):
      right = min(left + step, latent_width)
      x0, x1 = max(left * factor - halo, 0), min(right * factor + halo, latent_width * factor)
      cols = np.minimum(np.arange(x0, x1), width - 1)
      latents = np.asarray(analyze_tile(image[np.ix_(rows, cols)]))[0]
      dy, dx = top - y0 // factor, left - x0 // factor
      band.append(latents[dy:dy + bottom - top, dx:dx + right - left])
    yield np.concatenate(band, axis=1)


def rebanded(row_blocks, rows):
  """Yields the rows of arrays of any heights again, in bands of `rows` rows (the last fewer).

  Holds at most one band and one of the given blocks: tiles' latents become
  the bands they are coded in (compressor.nn.bands).
  """
  pending, count = [], 0
  for block in row_blocks:
    while len(block):
      take = min(rows - count, len(block))
      pending.append(block[:take])
      block, count = block[take:], count + take
      if count == rows:
        yield np.concatenate(pending)
        pending, count = [], 0
  if pending:
    yield np.concatenate(pending)


def synthesize_in_bands(synthesize_tile, latent_bands, config, height, width, tile_size):
  """Yields the decoded image as bands of 8-bit pixel rows, top to bottom.

  `latent_bands` yields the latents as bands of rows in order (of any height);
  rows are kept only while a tile still needs them. `synthesize_tile` maps
  [1, h, w, C] latents to their h*f x w*f x 3 uint8 pixels. The tiles' side
  is tile_size / SYNTHESIS_TILE_FRACTION.
  """
  factor = config.downsampling
  _, halo = context(config)
  latent_height, latent_width = config.latent_size(height, width)
  step = _tile_latents(config, tile_size // SYNTHESIS_TILE_FRACTION)
  window, window_top = None, 0  # Decoded latent rows [window_top, window_top + len).
  latent_bands = iter(latent_bands)
  for top in range(0, latent_height, step):
    bottom = min(top + step, latent_height)
    y0, y1 = max(top - halo, 0), min(bottom + halo, latent_height)
    while window is None or window_top + len(window) < y1:
      band = next(latent_bands)
      window = band if window is None else np.concatenate([window, band])
    window, window_top = window[y0 - window_top:], y0
    band = []
    for left in range(0, latent_width, step):
      right = min(left + step, latent_width)
      x0, x1 = max(left - halo, 0), min(right + halo, latent_width)
      pixels = np.asarray(synthesize_tile(window[None, :y1 - y0, x0:x1]))
      dy, dx = (top - y0) * factor, (left - x0) * factor
      band.append(pixels[dy:dy + (bottom - top) * factor, dx:dx + (right - left) * factor])
    band = np.concatenate(band, axis=1)
    yield band[:max(0, height - top * factor), :width]
