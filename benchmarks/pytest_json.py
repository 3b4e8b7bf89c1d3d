"""Run pytest with the given arguments and print its outcome as one JSON line (for cuda_suite.sh).

    python benchmarks/pytest_json.py [pytest arguments]
"""
from __future__ import annotations

import json
import sys

import pytest


class _Count:
    def __init__(self) -> None:
        self.outcomes: dict[str, int] = {}
        self.failed: list[str] = []
        self.skipped: list[str] = []

    def pytest_runtest_logreport(self, report) -> None:
        if report.when == "call" or report.outcome != "passed":
            self.outcomes[report.outcome] = self.outcomes.get(report.outcome, 0) + 1
            if report.outcome == "failed":
                self.failed.append(report.nodeid)
            elif report.outcome == "skipped":
                self.skipped.append(report.nodeid)


def main() -> int:
    count = _Count()
    code = int(pytest.main(sys.argv[1:], plugins=[count]))
    print(json.dumps({"benchmark": "cuda_tests", "exit_status": code, "outcomes": count.outcomes,
                      "failed": count.failed, "skipped": count.skipped}))
    return 0  # the JSON says what failed; the suite records it either way


if __name__ == "__main__":
    sys.exit(main())
