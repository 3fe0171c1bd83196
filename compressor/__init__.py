"""compressor: a learned image codec (Ballé et al. 2017) with real bitstreams.

The public API is `encode`, `decode`, `load_model` and `read_header` (see
compressor.api). They are imported on first use, so that `import compressor`,
and with it every `compressor` command, starts without NumPy, Pillow or
TensorFlow.
"""
__version__ = "0.1.0"

__all__ = ["CompressorWarning", "Header", "decode", "encode", "load_model", "read_header"]

# Type checkers (mypy, pyright) honour a TYPE_CHECKING of this name; importing
# typing for it would cost every start-up a few milliseconds.
TYPE_CHECKING = False
if TYPE_CHECKING:
  from compressor.api import CompressorWarning, Header, decode, encode, load_model, read_header


def __getattr__(name):
  if name in __all__:
    from compressor import api
    return getattr(api, name)
  raise AttributeError(f"module 'compressor' has no attribute {name!r}")


def __dir__():
  return sorted(set(globals()) | set(__all__))
