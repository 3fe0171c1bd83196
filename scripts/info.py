"""Same as `compressor info`: see `python scripts/info.py --helpfull`."""

import sys

from compressor.cli import main

if __name__ == "__main__":
  sys.exit(main([sys.argv[0], "info"] + sys.argv[1:]))
