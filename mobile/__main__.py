"""`python -m mobile --server http://127.0.0.1:8000` opens the CARE Field tablet app."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

# Kivy reads sys.argv and logs to the console unless told otherwise; the app has its own options.
os.environ.setdefault("KIVY_NO_ARGS", "1")

DEFAULT_SIZE = "1280x800"


def command_line() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m mobile", description=__doc__)
    parser.add_argument("--server", help="The CARE Field server, e.g. http://127.0.0.1:8000")
    parser.add_argument(
        "--store",
        type=Path,
        default=Path.home() / ".local/share/care-field/tablet.sqlite3",
        help="This tablet's local store (remembers the device and queued changes)",
    )
    parser.add_argument(
        "--size",
        help=f"Window size, WIDTHxHEIGHT (default {DEFAULT_SIZE}, landscape); a portrait tablet "
        "or screen: 800x1280",
    )
    parser.add_argument(
        "--font-scale", type=float, default=1.0, help="Larger text, e.g. 1.3 (touch targets grow)"
    )
    parser.add_argument(
        "--lock-minutes",
        type=float,
        help="Lock after this many idle minutes (default 10, never over 30)",
    )
    parser.add_argument(
        "--position",
        help="Report this fixed position, LAT,LON (a desktop has no GPS; Android uses its own)",
    )
    return parser


def open_app(argv: list[str] | None = None):
    """The app as the command line asks for it, not yet running (`.run()` opens its window)."""
    parser = command_line()
    args = parser.parse_args(argv)

    # Read by kivy.metrics at import: every font size in the kv files is in sp, so it scales.
    os.environ["KIVY_METRICS_FONTSCALE"] = str(args.font_scale)
    from kivy.config import Config

    if args.size is None:  # said, so a portrait screen isn't left cut off without a word
        print(
            f"CARE Field opens {DEFAULT_SIZE} (landscape); for a portrait screen start it with "
            "--size 800x1280.",
            file=sys.stderr,
        )
    try:
        width, height = (int(side) for side in (args.size or DEFAULT_SIZE).split("x"))
    except ValueError:
        parser.error("--size: WIDTHxHEIGHT in pixels, e.g. 800x1280")
    Config.set("graphics", "width", str(width))
    Config.set("graphics", "height", str(height))
    Config.set("input", "mouse", "mouse,disable_multitouch")

    from mobile.client.position import AndroidGps, FixedPosition, parse_position
    from mobile.ui.app import CareTabletApp

    source = None
    if args.position:
        try:
            source = FixedPosition(*parse_position(args.position))
        except ValueError as exc:
            parser.error(f"--position: {exc}")
    elif "ANDROID_ARGUMENT" in os.environ:  # set by python-for-android
        source = AndroidGps()
    return CareTabletApp(
        store_path=args.store,
        server_url=args.server,
        lock_after_minutes=args.lock_minutes,
        position_source=source,
    )


def main() -> None:
    open_app().run()


if __name__ == "__main__":
    main()
