"""`python -m compressor COMMAND ...`, the same as the `compressor` script."""

import sys

from compressor.cli import main

sys.exit(main())
