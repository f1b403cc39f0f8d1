"""``python -m bench.pages [--quick]``."""

import sys

from bench.pages.run import main

sys.exit(main())
