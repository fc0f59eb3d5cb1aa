"""`python -m cli ...` is `courierwatch ...` (the tests run the command this way)."""

import sys

from cli.main import main

sys.exit(main())
