"""Same as `compressor models`: see `python scripts/models.py --helpfull`."""

import sys

from compressor.cli import main

if __name__ == "__main__":
  sys.exit(main([sys.argv[0], "models"] + sys.argv[1:]))
