"""Payload bands: each coded tensor is range-coded in bands of rows, one payload a band."""

__all__ = ["BAND_ROWS", "band_bounds", "payload_bounds"]

# Rows of a coded tensor in one payload: 1024 pixels of an image under the bundled
# models. The range decoder's input, padded to bound its work on any payload (10
# bytes a coded value, compressor.nn.entropy_coding.decoder_input), then exists for
# one band at a time, so decoding memory does not grow with the image's height.
BAND_ROWS = 64


def band_bounds(rows):
  """(top, bottom) of each band of a tensor with `rows` rows, top to bottom."""
  return [(top, min(top + BAND_ROWS, rows)) for top in range(0, rows, BAND_ROWS)]


def payload_bounds(rows, num_payloads):
  """(top, bottom) of the rows each of a tensor's payloads codes, or None if they cannot.

  One payload codes every row (as in every file of format version 2); more are
  the bands of `band_bounds`.
  """
  bounds = [(0, rows)] if num_payloads == 1 else band_bounds(rows)
  return bounds if len(bounds) == num_payloads else None
