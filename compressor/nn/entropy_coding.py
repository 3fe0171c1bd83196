"""Range coders from saved tables, and range decoding that is bounded and checked on any input."""

import math
import zlib

import tensorflow as tf
import tensorflow_compression as tfc

from compressor.errors import BitstreamError
from compressor.nn.bands import payload_bounds
from compressor.nn.config import ceil_div

__all__ = [
    "check_whole",
    "CODING_RANK",
    "decode_factorized",
    "decoded_bands",
    "decoder_input",
    "factorized_coder",
    "factorized_coder_for",
    "factorized_tables",
]

# Entropy coding is per image: the latent (height, width, channels) is one unit.
CODING_RANK = 3


def factorized_coder(tables, channels):
  """Range coder for a factorized prior, from its tables."""
  offset = tables.get("quantization_offset")
  return tfc.ContinuousBatchedEntropyModel(
      prior_shape=(channels,), coding_rank=CODING_RANK, compression=True, stateless=True,
      cdf=tables["cdf"], cdf_offset=tables["cdf_offset"],
      # Tables without an offset code plain integers (an integer hyperprior's side).
      quantization_offset=None if offset is None else tf.constant(offset),
      offset_heuristic=offset is not None)


def factorized_coder_for(prior, channels, offset_heuristic=True):
  """Range coder for a factorized prior, its tables derived from the prior once, here.

  Without `offset_heuristic` the values are rounded to integers, with no
  quantization offset.
  """
  def derive_tables():
    coder = tfc.ContinuousBatchedEntropyModel(
        prior, coding_rank=CODING_RANK, compression=True, stateless=True,
        offset_heuristic=offset_heuristic)
    return {"cdf": coder.cdf, "cdf_offset": coder.cdf_offset,
            "quantization_offset": coder.quantization_offset}
  # In a graph: eagerly, the search for the prior's tails takes ten times longer.
  return factorized_coder(tf.function(derive_tables)(), channels)


# Zero bytes after a payload: a valid payload leaves its last zeros implicit
# (TFC's range decoder reads zeros past the end), usually 2 to 6 of them.
_IMPLICIT_ZEROS = 64
# Bytes of padding deflated at a time.
_PADDING_BLOCK = 1 << 20


def decoder_input(string, num_values, coder):
  """A payload followed by padding that bounds the range decoder's work on any input.

  TFC's decoder reads zeros past its input, and on zeros the unary prefix of
  an escape code can go on forever. Here it reads the zeros a valid payload
  leaves implicit, then 0xFF bytes. On those a prefix has at most 32 zeros, so
  a value takes at most 67 bits for an escape code and precision + 1 for its
  symbol (32 at precision 16). There are enough for every value, plus the
  rest of an escape code begun before them, whose prefix is at most the bits
  before them. See docs/robustness.md, "Corrupt payloads cannot hang the decoder".
  """
  precision = int(coder.range_coder_precision)
  bits = 67 + (precision + 1 if precision < 16 else 32)
  ones = ceil_div(num_values * bits, 8) + (len(string) + _IMPLICIT_ZEROS) * 1001 // 1000 + 64
  # Inflated inside TensorFlow from a zlib stream of a few kB a megabyte: the
  # padding (10 bytes a value, 0.5 GB at 100 MP) then exists once, where
  # Python's bytes and tf.constant held about five copies while building it.
  # After a full flush deflate starts afresh, so every block of 0xFF bytes
  # deflates to the same segment: it is deflated once and repeated, and the
  # stream's Adler-32 is that of everything it inflates to.
  block = b"\xff" * min(ones, _PADDING_BLOCK)
  repeats, rest = divmod(ones, len(block))
  prefix = string + bytes(_IMPLICIT_ZEROS)
  deflater = zlib.compressobj(1)
  head = deflater.compress(prefix) + deflater.flush(zlib.Z_FULL_FLUSH)
  segment = deflater.compress(block) + deflater.flush(zlib.Z_FULL_FLUSH)
  tail = deflater.compress(block[:rest]) + deflater.flush()
  checksum = zlib.adler32(prefix)
  for _ in range(repeats):
    checksum = zlib.adler32(block, checksum)
  checksum = zlib.adler32(block[:rest], checksum)
  stream = head + segment * repeats + tail[:-4] + checksum.to_bytes(4, "big")
  return tf.io.decode_compressed(stream, compression_type="ZLIB")


def check_whole(whole, what):
  """Refuses a payload that is not exactly the coding of what was decoded from it."""
  if not bool(whole):
    raise BitstreamError(f"{what} payload is corrupt: it does not code the values it decodes to")


def decode_factorized(coder, string, padded, size, channels):
  """(values [1, h, w, channels], whether they code back to exactly `string`).

  Re-encoding is what proves that the decoder read the payload and no padding,
  and it costs a fraction of the decoding.
  """
  handle = tfc.create_range_decoder(padded[None], coder.cdf)
  _, symbols = tfc.entropy_decode_channel(
      handle, tf.concat([size, [channels]], 0), coder.cdf_offset.dtype)
  encoder = tfc.entropy_encode_channel(tfc.create_range_encoder([1], coder.cdf), symbols)
  whole = tf.equal(tfc.entropy_encode_finalize(encoder)[0], string)
  values = tf.cast(symbols + coder.cdf_offset, tf.float32)
  offset = coder.quantization_offset
  return (values if offset is None else values + offset), whole


def decoded_bands(payloads, shape, decode_band, coder, what):
  """Yields the values of each band a tensor's payloads code, each checked to be exactly its coding.

  `decode_band(string, padded, top, bottom)` decodes the rows [top, bottom)
  of a tensor of `shape` (height, width, channels) from one payload and its
  decoder input, returning (values, whether they code back to the payload).
  Only one band's padded input exists at a time. `what` names the tensor in
  the error of a corrupt payload.
  """
  for string, (top, bottom) in zip(payloads, payload_bounds(shape[0], len(payloads))):
    padded = decoder_input(string, (bottom - top) * math.prod(shape[1:]), coder)
    values, whole = decode_band(tf.constant(string), padded, top, bottom)
    check_whole(whole, what)
    yield values


def factorized_tables(coder):
  tables = {"cdf": coder.cdf.numpy(), "cdf_offset": coder.cdf_offset.numpy()}
  if coder.quantization_offset is not None:
    tables["quantization_offset"] = coder.quantization_offset.numpy()
  return tables
