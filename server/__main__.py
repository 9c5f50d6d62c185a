"""``python -m cove.server`` is ``cove-relay``."""

import sys

from .cli import main

sys.exit(main())
