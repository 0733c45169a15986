"""`python -m keeper`: see keeper/cli.py."""

import sys

from keeper.cli import main

sys.exit(main())
