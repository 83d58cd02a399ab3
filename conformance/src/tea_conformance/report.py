"""The reports of a certification run, by their public names.

Each job has its own module: the data model (``report_model``), the terminal summary
(``report_terminal``), the Markdown, JSON and HTML reports (``report_markdown``,
``report_json``, ``report_html``), the badge (``badge``), where the files go and writing them
(``report_files``), comparing runs (``compare``) and the command line (``cli``). This module
only gathers the names, so ``from tea_conformance.report import …`` keeps working.
"""

from __future__ import annotations

import sys

from .cli import main
from .compare import compare
from .report_files import report_paths, write_reports
from .report_markdown import render_markdown
from .report_model import SUITE_VERSION, CaseResult, TransportReport
from .report_terminal import render_terminal

__all__ = [
    "SUITE_VERSION",
    "CaseResult",
    "TransportReport",
    "compare",
    "main",
    "render_markdown",
    "render_terminal",
    "report_paths",
    "write_reports",
]

if __name__ == "__main__":  # ``python -m tea_conformance.report compare …``, as ``tea-conformance``
    sys.exit(main())
