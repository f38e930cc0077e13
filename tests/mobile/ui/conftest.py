"""The real Daphne server the tablet app talks to (the e2e suite's fixture, reused)."""

from tests.e2e.conftest import served_system  # noqa: F401
