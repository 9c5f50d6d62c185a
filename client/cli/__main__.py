"""``python -m cove.client.cli``."""

import sys

from cove.client.cli import main

if __name__ == "__main__":
    sys.exit(main())
