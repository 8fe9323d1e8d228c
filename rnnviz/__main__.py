"""``python -m rnnviz ...``: the same commands as the ``rnnviz`` console script."""

import sys

from rnnviz.cli import main

if __name__ == "__main__":
    sys.exit(main())
