"""Check that a benchmark script accepts a command line, without running it (cuda_suite.sh --dry-run).

    python benchmarks/check_args.py SCRIPT [ARGS...]

Runs SCRIPT as ``__main__`` (so its imports are checked too) with
``ArgumentParser.parse_args`` replaced by one that parses and then stops: exit status 0
when ARGS parse, argparse's own message and status 2 when they do not.
"""
from __future__ import annotations

import argparse
import runpy
import sys
from pathlib import Path


class ArgsAccepted(SystemExit):
    """Raised once the script's parser has accepted the arguments."""


def main() -> None:
    if len(sys.argv) < 2:
        raise SystemExit("usage: check_args.py SCRIPT [ARGS...]")
    script = Path(sys.argv[1]).resolve()
    parse = argparse.ArgumentParser.parse_args

    def parse_then_stop(self, args=None, namespace=None):
        parse(self, args, namespace)  # exits with status 2 on a bad option or value
        raise ArgsAccepted(0)

    argparse.ArgumentParser.parse_args = parse_then_stop  # type: ignore[method-assign]
    sys.argv = [str(script), *sys.argv[2:]]
    sys.path.insert(0, str(script.parent))
    try:
        runpy.run_path(str(script), run_name="__main__")
    except ArgsAccepted:
        print(f"{script.name}: arguments accepted")
        return
    raise SystemExit(f"{script.name} finished without parsing its arguments with argparse")


if __name__ == "__main__":
    main()
