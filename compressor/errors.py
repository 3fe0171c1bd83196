"""Errors a user can act on; each message is one line naming the problem."""

__all__ = [
    "CompressorError",
    "BitstreamError",
    "EvaluationError",
    "ImageError",
    "ModelError",
    "TrainingError",
]


class CompressorError(Exception):
  """Base class: the command-line tools print the message and exit non-zero."""


class BitstreamError(CompressorError):
  """A compressed file is truncated, corrupt, or of an unknown version."""


class EvaluationError(CompressorError):
  """An evaluation was asked for something it cannot compare."""


class ImageError(CompressorError):
  """An input image is missing, unreadable, or of an unsupported kind."""


class ModelError(CompressorError):
  """A model is missing, malformed, or does not match a bitstream."""


class TrainingError(CompressorError):
  """Training cannot start or cannot go on (no data, a non-finite loss)."""
