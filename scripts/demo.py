"""Same as `compressor demo`: see `python scripts/demo.py --helpfull`."""

import sys

from compressor.cli import main

if __name__ == "__main__":
  sys.exit(main([sys.argv[0], "demo"] + sys.argv[1:]))
