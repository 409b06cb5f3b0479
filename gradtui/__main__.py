"""``python -m gradtui``: the same as the ``gradtui`` command."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
