"""The landing page (``/``) and the API documentation page (``/docs``).

``/docs`` renders ``docs/api.md`` with a deliberately small Markdown subset
(headings, paragraphs, lists, tables, fenced code, inline code, bold, italics,
links):
every piece of text is HTML-escaped, and only http(s), relative and fragment
links become anchors.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from urllib.parse import quote

DOCS_CANDIDATES = (
    Path(__file__).resolve().parents[2] / "docs" / "api.md",  # a source checkout / editable install
)

_INLINE = re.compile(r"`([^`]+)`|\*\*([^*]+)\*\*|\[([^\]]+)\]\(([^)\s]+)\)|(?<![\w*])\*([^*\s][^*]*)\*(?![\w*])")
_SAFE_LINK = re.compile(r"^(https?://|/|#|\.{0,2}/?[\w.-]+(\.md|\.html)?(#[\w-]*)?$)")


def _inline(text: str) -> str:
    out, pos = [], 0
    for m in _INLINE.finditer(text):
        out.append(html.escape(text[pos:m.start()]))
        code, bold, label, href, em = m.groups()
        if em is not None:
            out.append(f"<em>{_inline(em)}</em>")
        elif code is not None:
            out.append(f"<code>{html.escape(code)}</code>")
        elif bold is not None:
            out.append(f"<strong>{_inline(bold)}</strong>")
        elif _SAFE_LINK.match(href):
            out.append(f'<a href="{html.escape(href, quote=True)}">{_inline(label)}</a>')
        else:
            out.append(html.escape(m.group(0)))
        pos = m.end()
    out.append(html.escape(text[pos:]))
    return "".join(out)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def markdown_to_html(md: str) -> str:
    lines = md.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("```"):
            lang = line[3:].strip()
            body = []
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                body.append(lines[i])
                i += 1
            cls = f' class="lang-{html.escape(lang, quote=True)}"' if lang else ""
            out.append(f"<pre><code{cls}>{html.escape(chr(10).join(body))}</code></pre>")
            i += 1
            continue
        heading = re.match(r"^(#{1,4})\s+(.*)$", line)
        if heading:
            level, text = len(heading.group(1)), heading.group(2).strip()
            out.append(f'<h{level} id="{_slug(text)}">{_inline(text)}</h{level}>')
            i += 1
            continue
        if line.startswith("|"):
            rows = []
            while i < len(lines) and lines[i].startswith("|"):
                cells = [c.strip() for c in lines[i].strip().strip("|").split("|")]
                if not all(re.fullmatch(r":?-{3,}:?", c) for c in cells):
                    rows.append(cells)
                i += 1
            head, *body = rows
            out.append("<table><thead><tr>" + "".join(f"<th>{_inline(c)}</th>" for c in head) + "</tr></thead><tbody>")
            for row in body:
                out.append("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in row) + "</tr>")
            out.append("</tbody></table>")
            continue
        if re.match(r"^\s*[-*]\s+", line):
            out.append("<ul>")
            while i < len(lines) and re.match(r"^\s*[-*]\s+", lines[i]):
                item = re.sub(r"^\s*[-*]\s+", "", lines[i])
                i += 1
                while i < len(lines) and lines[i].startswith("  ") and lines[i].strip():
                    item += " " + lines[i].strip()
                    i += 1
                out.append(f"<li>{_inline(item)}</li>")
            out.append("</ul>")
            continue
        if not line.strip():
            i += 1
            continue
        para = [line.strip()]
        i += 1
        while i < len(lines) and lines[i].strip() and not re.match(r"^(#|```|\||\s*[-*]\s)", lines[i]):
            para.append(lines[i].strip())
            i += 1
        out.append(f"<p>{_inline(' '.join(para))}</p>")
    return "\n".join(out)


def page(title: str, body: str, lang: str = "en") -> str:
    return (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">'
        f"<title>{html.escape(title)}</title>"
        '<link rel="stylesheet" href="/wall/static/fonts.css">'
        '<link rel="stylesheet" href="/wall/static/site.css"></head>'
        f'<body><main class="doc">{body}</main></body></html>'
    )


def docs_html() -> str:
    for path in DOCS_CANDIDATES:
        if path.is_file():
            return page("chiso — HTTP API", markdown_to_html(path.read_text(encoding="utf-8")))
    return page("chiso — HTTP API", "<h1>chiso — HTTP API</h1><p>The API documentation is "
                "<code>docs/api.md</code> in the chiso source tree.</p>")


LANDING = """
<header class="landing-head">
  <p class="kicker">chiso</p>
  <h1 lang="vi">Bộ chỉ số phục vụ người dân, doanh nghiệp — trực tiếp</h1>
  <p class="sub">Live public-service index (Decision 766/QĐ-TTg) from one-stop dossier events</p>
</header>
<nav class="cards">
  <a class="card primary" href="/wall"><span class="t" lang="vi">Màn hình giám sát, điều hành</span>
    <span class="d">Control-room wall display: score, groups, ranking, deadlines, live</span></a>
  <a class="card" href="/wall?lang=en"><span class="t">Wall display (English)</span>
    <span class="d">The same wall with English labels</span></a>
  <a class="card" href="/docs"><span class="t">API documentation</span>
    <span class="d" lang="vi">Tài liệu API: /api/v1/kpis, ranking, open, dossiers, report, units</span></a>
  <a class="card" href="/metrics"><span class="t">Prometheus metrics</span>
    <span class="d">/metrics: dvc_index_score, dvc_kpi_ratio, dvc_open_dossiers…</span></a>
</nav>
<section class="quick">
  <h2>Quick links</h2>
  <ul>
    <li><a href="/api/v1/kpis?window=30d">/api/v1/kpis?window=30d</a></li>
    <li><a href="/api/v1/units">/api/v1/units</a></li>
    {ranking}
    <li><a href="/healthz">/healthz</a> · <a href="/readyz">/readyz</a></li>
  </ul>
</section>
"""


def landing_html(root: str | None = None) -> str:
    ranking = ""
    if root:
        href = html.escape(f"/api/v1/ranking?parent={quote(root)}&window=30d", quote=True)
        ranking = f'<li><a href="{href}">{html.escape(f"/api/v1/ranking?parent={root}&window=30d")}</a></li>'
    return page("chiso", LANDING.replace("{ranking}", ranking), lang="vi")
