"""`python -m vidlearn`: the command line."""

import sys

from vidlearn.cli import main

sys.exit(main())
