"""Same as `compressor train`: see `python scripts/train.py --helpfull`."""

import sys

from compressor.cli import main

if __name__ == "__main__":
  sys.exit(main([sys.argv[0], "train"] + sys.argv[1:]))
