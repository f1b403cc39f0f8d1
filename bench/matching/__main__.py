"""``python -m bench.matching [--quick]``."""

import sys

from bench.matching.run import main

sys.exit(main())
