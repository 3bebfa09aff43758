"""Rendering a report's blocks (headings, paragraphs, tables, images) as Markdown and as one HTML page."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

__all__ = ["Block", "html_page", "markdown"]

Block = tuple[str, Any]  # ("h1"|"h2"|"p"|"table"|"image", payload)



def _md_cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown(blocks: Sequence[Block]) -> str:
    """The blocks as Markdown (GitHub tables; images under ``figures/``)."""
    lines: list[str] = []
    for kind, payload in blocks:
        if kind == "h1":
            lines += [f"# {payload}", ""]
        elif kind == "h2":
            lines += [f"## {payload}", ""]
        elif kind == "p":
            lines += [str(payload), ""]
        elif kind == "image":
            path, alt = payload
            lines += [f"![{alt}](figures/{path.name})", ""]
        elif kind == "table":
            columns, rows = payload
            lines.append("| " + " | ".join(_md_cell(c) for c in columns) + " |")
            lines.append("|" + "|".join("---" for _ in columns) + "|")
            lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
            lines.append("")
    return "\n".join(lines)


_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem;color:#222}"
    "table{border-collapse:collapse;margin:0.5rem 0 1rem}th,td{border:1px solid #ccc;padding:0.25rem 0.5rem;"
    "text-align:left}th{background:#f3f3f3}img{max-width:100%}p{line-height:1.4}"
)


def html_page(blocks: Sequence[Block], title: str) -> str:
    """The blocks as one self-contained HTML page; every value is escaped."""
    e = html.escape
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{e(title)}</title>",
             f"<style>{_STYLE}</style></head><body>"]  # fmt: skip
    for kind, payload in blocks:
        if kind in ("h1", "h2"):
            parts.append(f"<{kind}>{e(str(payload))}</{kind}>")
        elif kind == "p":
            parts.append(f"<p>{e(str(payload))}</p>")
        elif kind == "image":
            path, alt = payload
            parts.append(f"<p><img src='figures/{e(path.name)}' alt='{e(alt)}'></p>")
        elif kind == "table":
            columns, rows = payload
            head = "".join(f"<th>{e(str(c))}</th>" for c in columns)
            body = "".join("<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in row) + "</tr>" for row in rows)
            parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
    parts.append("</body></html>\n")
    return "\n".join(parts)
