"""``python -m cove.client.cli``."""

import sys

from cove.client.cli import main

sys.exit(main())
