"""``python -m dispatch``: the same as the ``dispatch`` command."""

import sys

from dispatch.cli.root import main

if __name__ == "__main__":
    sys.exit(main())
