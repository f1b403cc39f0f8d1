"""``python -m bench.people [--quick]``."""

import sys

from bench.people.run import main

sys.exit(main())
