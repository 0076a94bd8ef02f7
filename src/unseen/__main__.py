"""`python -m unseen` runs the CLI (torchrun uses this form)."""

import sys

from unseen.cli import main

sys.exit(main())
