#!/usr/bin/env python3
"""Latent Studio: `python main.py` opens the explorer; `python main.py COMMAND …` runs headless.

Headless commands never import Qt (see `cli/`); the GUI lives in `app/`.
"""
from __future__ import annotations

import importlib.util
import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # The GUI: no arguments, `gui …`, or only GUI options (`--model M`); -h lists the commands.
    gui = not argv or argv[0] == "gui" or (argv[0].startswith("-") and argv[0] not in ("-h", "--help"))
    if gui and importlib.util.find_spec("app.main") is not None:
        from app.main import run_gui

        return run_gui(argv[1:] if argv and argv[0] == "gui" else argv)
    from cli.commands import run

    return run(argv)


if __name__ == "__main__":
    sys.exit(main())
