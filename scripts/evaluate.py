"""Same as `compressor evaluate`: see `python scripts/evaluate.py --helpfull`."""

import sys

from compressor.cli import main

if __name__ == "__main__":
  sys.exit(main([sys.argv[0], "evaluate"] + sys.argv[1:]))
