"""The test suite's settings: the project's, in development mode (DEBUG on, the demo key).

An unset DEBUG means production (server/settings.py); the tests ask for development explicitly,
as `make run` does, so `make test` works on a clean machine without a SECRET_KEY.
"""

import os

os.environ.setdefault("DEBUG", "true")

from server.settings import *  # noqa: F403
