"""Same as `compressor decompress`: see `python scripts/decompress.py --helpfull`."""

import sys

from compressor.cli import main

if __name__ == "__main__":
  sys.exit(main([sys.argv[0], "decompress"] + sys.argv[1:]))
