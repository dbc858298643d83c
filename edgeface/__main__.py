"""``python -m edgeface`` is the same as the ``edgeface`` console script."""

import sys

from edgeface.cli import main

sys.exit(main())
