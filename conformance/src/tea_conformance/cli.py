"""``tea-conformance``: tools around the certification reports.

tea-conformance compare zeromq.json acme.json > comparison.md
tea-conformance features            # Markdown: what each Feature turns on
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence

from .compare import compare
from .listing import features_table
from .report_json import ReportFileError, load_report

__all__ = ["main"]

_DESCRIPTION = (
    "Tools around TEA transport certification reports. To certify a transport, run "
    "`pytest --transport=NAME --conformance-report=reports/cert`; to see the catalogue, "
    "`pytest --list-scenarios [--transport=NAME]`."
)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="tea-conformance", description=_DESCRIPTION)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    cmp = sub.add_parser(
        "compare",
        help="render JSON reports side by side as Markdown, differing outcomes first",
        description="Render JSON reports (written by --conformance-report) side by side as Markdown.",
    )
    cmp.add_argument("reports", nargs="+", type=Path, metavar="REPORT.json")
    sub.add_parser(
        "features",
        help="print, as Markdown, the scenarios each Feature turns on",
        description="Print, as Markdown, the scenarios that declaring each Feature turns on.",
    )
    args = parser.parse_args(argv)
    if args.command == "features":
        sys.stdout.write(features_table())
        return 0
    try:
        documents = [load_report(path) for path in args.reports]
    except ReportFileError as exc:
        parser.error(str(exc))
    sys.stdout.write(compare(documents))
    return 0


if __name__ == "__main__":
    sys.exit(main())
