"""``python -m tests_manual``: see :mod:`tests_manual.runner`."""

import sys

from tests_manual.runner import main

sys.exit(main())
