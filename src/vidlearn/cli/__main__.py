"""`python -m vidlearn.cli`."""

import sys

from vidlearn.cli import main

sys.exit(main())
