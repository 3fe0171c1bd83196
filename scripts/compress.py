"""Same as `compressor compress`: see `python scripts/compress.py --helpfull`."""

import sys

from compressor.cli import main

if __name__ == "__main__":
  sys.exit(main([sys.argv[0], "compress"] + sys.argv[1:]))
