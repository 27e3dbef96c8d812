"""``python -m fastact bench|plot|info``: the same as the ``fastact`` console script."""

from __future__ import annotations

import sys

from fastact._cli import main

if __name__ == "__main__":
    sys.exit(main())
