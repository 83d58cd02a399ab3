"""Where the reports of a run go, from one stem, and writing them there: JSON
(``report_json``), Markdown (``report_markdown``), HTML (``report_html``) and an SVG badge
per transport (``badge``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List, Sequence

from .badge import render_badge
from .report_html import render_html
from .report_json import to_document
from .report_markdown import render_markdown
from .report_model import TransportReport

__all__ = ["report_paths", "write_reports"]


def report_paths(path: Path, transports: Sequence[str]) -> Dict[str, Path]:
    """Every report's path from one stem: ``out/cert.md``, ``out/cert.json`` and ``out/cert``
    all give ``out/cert.json``, ``.md``, ``.html`` and ``out/cert.TRANSPORT.svg``; an existing
    directory ``out`` gives ``out/conformance.json`` and so on."""
    if path.is_dir():  # a directory: the reports go into it
        path = path / "conformance"
    stem = path.with_suffix("") if path.suffix.lower() in _SUFFIXES else path
    paths = {fmt: stem.with_name(f"{stem.name}.{fmt}") for fmt in ("json", "md", "html")}
    paths.update({f"svg:{t}": stem.with_name(f"{stem.name}.{_file_safe(t)}.svg") for t in transports})
    return paths


_SUFFIXES = {".json", ".md", ".html", ".htm", ".svg", ".xml"}


def _file_safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def write_reports(reports: Sequence[TransportReport], path: Path) -> List[Path]:
    """Write the JSON, Markdown and HTML reports and a badge per transport; return their paths."""
    paths = report_paths(path, [r.transport for r in reports])
    paths["json"].parent.mkdir(parents=True, exist_ok=True)
    paths["json"].write_text(json.dumps(to_document(reports), indent=2) + "\n", encoding="utf-8")
    paths["md"].write_text(render_markdown(reports), encoding="utf-8")
    paths["html"].write_text(render_html(reports), encoding="utf-8")
    for report in reports:
        paths[f"svg:{report.transport}"].write_text(render_badge(report), encoding="utf-8")
    return list(paths.values())
