"""Pillow plugin: `import compressor.pillow`, then Image.open and Image.save read and write .cmpr.

Image.open reads the header only: size and mode (L, LA, RGB or RGBA) are known
at once, and the image is decoded on load(), as Pillow's own formats do; the
model is the installed one the file names (see compressor.decode).
`image.save("photo.cmpr", quality=2)` encodes, also with `target_bpp`,
`effort` and `model` (see compressor.encode); other modes are converted as
`compressor compress` converts them, with a CompressorWarning.
"""

from PIL import Image, ImageFile

from compressor import api
from compressor.coding import container

__all__ = ["EXTENSION", "FORMAT", "MIME_TYPE", "CompressorImageFile", "register"]

FORMAT = "CMPR"
EXTENSION = container.EXTENSION
# Unregistered with IANA, hence the x- prefix (a vnd. name would claim a
# registration we do not have); named after the project, which the format is.
MIME_TYPE = "image/x-compressor"
_SAVE_OPTIONS = ("model", "quality", "target_bpp", "effort")


def _accept(prefix):
  return prefix[:len(container.MAGIC)] == container.MAGIC


class CompressorImageFile(ImageFile.ImageFile):
  """A .cmpr file: the header at open, the pixels at load()."""

  format = FORMAT
  format_description = "compressor learned image codec"

  def _open(self):
    # The whole file is read (it is small) so that open checks its length and
    # CRC, and load() needs nothing more from the file.
    data = self.fp.read()
    header = api.read_header(data)
    self._compressed = data
    self._size = (header.width, header.height)
    self._mode = header.layout
    self.info["model_name"] = header.model_name
    self.info["fingerprint"] = header.fingerprint

  def load(self):
    if self._compressed is not None:
      decoded = api.decode(self._compressed)
      self.im = decoded.im
      self._compressed = None
      if self._exclusive_fp and self._close_exclusive_fp_after_loading:
        self.fp.close()
      self.fp = None
    return Image.Image.load(self)


def _save(image, fp, filename):
  options = {name: image.encoderinfo.get(name) for name in _SAVE_OPTIONS}
  options["effort"] = options["effort"] or 0
  # Warnings point at the caller of Image.save: _save <- Image.save <- caller.
  fp.write(api._encode(image, stacklevel=4, **options))


def register():
  """Registers the format with Pillow; importing this module has done it already."""
  Image.register_open(FORMAT, CompressorImageFile, _accept)
  Image.register_save(FORMAT, _save)
  Image.register_extension(FORMAT, EXTENSION)
  Image.register_mime(FORMAT, MIME_TYPE)


register()
