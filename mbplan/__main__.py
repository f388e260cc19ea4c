"""Allow ``python -m mbplan``."""

import sys

from mbplan.cli import main

sys.exit(main())
