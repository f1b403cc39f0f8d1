"""``python -m bench.worker [--quick]``."""

import sys

from bench.worker.run import main

sys.exit(main())
