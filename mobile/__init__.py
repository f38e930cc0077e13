"""The CARE Field tablet app: `client/` is the pure-Python core, `ui/` the Kivy screens."""
