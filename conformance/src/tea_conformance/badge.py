"""An SVG badge of a transport's verdict, for its README: ``TEA-STREAM-002.2 | pub_sub core: certified``.

Flat, shields.io-like, self-contained (no font or image fetched). Text widths are estimated
from a per-character table of Verdana at 11 px, the font badges are drawn in.
"""

from __future__ import annotations

from html import escape
from typing import Any

from .catalogue import STORY
from .display import badge_label

__all__ = ["render_badge"]

_COLOURS = {"good": "#2da44e", "warn": "#d4a72c", "bad": "#cf222e", "none": "#6e7781"}
_NARROW = set("fijlrt.,:;'|!()[] ")
_WIDE = set("mwMWG@%—")


def _width(text: str) -> int:
    """Estimated width in px at Verdana 11 px, plus padding."""
    total = 0.0
    for char in text:
        if char in _NARROW:
            total += 3.9
        elif char in _WIDE or char.isupper():
            total += 8.4 if char in _WIDE else 7.4
        else:
            total += 6.6
    return int(total) + 12


def render_badge(report: Any) -> str:
    left, right = STORY, badge_label(report)
    colour = _COLOURS[report.status.tone]
    lw, rw = _width(left), _width(right)
    total = lw + rw
    title = escape(f"{left} | {right} — {report.transport}: {report.verdict}")
    shadow = 'fill="#010101" fill-opacity=".3"'
    return "\n".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="20" role="img" '
            f'aria-label="{title}">',
            f"<title>{title}</title>",
            '<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/>'
            '<stop offset="1" stop-opacity=".1"/></linearGradient>',
            f'<clipPath id="r"><rect width="{total}" height="20" rx="3" fill="#fff"/></clipPath>',
            f'<g clip-path="url(#r)"><rect width="{lw}" height="20" fill="#555"/>'
            f'<rect x="{lw}" width="{rw}" height="20" fill="{colour}"/>'
            f'<rect width="{total}" height="20" fill="url(#s)"/></g>',
            '<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" '
            'font-size="11">',
            f'<text x="{lw / 2:.1f}" y="15" {shadow}>{escape(left)}</text>',
            f'<text x="{lw / 2:.1f}" y="14">{escape(left)}</text>',
            f'<text x="{lw + rw / 2:.1f}" y="15" {shadow}>{escape(right)}</text>',
            f'<text x="{lw + rw / 2:.1f}" y="14">{escape(right)}</text>',
            "</g>",
            "</svg>",
            "",
        ]
    )
