"""Pure rendering: Answer, RebuildSummary and index records to escaped HTML or Markdown.

Everything shown that comes from articles, questions or the model is escaped here: article text
is data, never markup.
"""

from __future__ import annotations

import html
import re
from typing import Any

from qa.records import Answer, Article, RebuildSummary

NO_INDEX = "There is no index yet: open the **Articles** tab and press **Rebuild index**."

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-!|~])")


def md_escape(text: str) -> str:
    """Text shown literally by a Markdown renderer: no HTML, no links, no emphasis."""
    return _MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


def answer_markdown(answer: Answer, turn: int) -> str:
    """The answer for the chat, each [n] a chip linking to source n of this turn."""
    if answer.refused:
        text = md_escape(answer.text)
        # "under Sources": beside the chat on a wide screen, below it on a phone.
        return text + "\n\n*The closest passages are listed under Sources.*" \
            if answer.passages else text
    numbers = {c.number for c in answer.citations}

    def chip(m: re.Match[str]) -> str:
        n = int(m.group(1))
        return f"[\\[{n}\\]](#qa-cite-{turn}-{n})" if n in numbers else m.group(0)

    return re.sub(r"\\\[(\d+)\\\]", chip, md_escape(answer.text))


def filter_words(sources: list[str] | None, since: str, until: str) -> list[str]:
    """The active filters in words, one per filter ("from Reuters", "from 2015-01-01")."""
    words = []
    if sources:
        words.append("from " + ", ".join(sources))
    since, until = (since or "").strip(), (until or "").strip()
    if since and until:
        words.append(f"dated {since} to {until}")
    elif since:
        words.append(f"dated on or after {since}")
    elif until:
        words.append(f"dated on or before {until}")
    return words


def filter_chips(sources: list[str] | None, since: str, until: str) -> str:
    """The active filters as chips above the chat, seen while the filter panel is closed."""
    words = filter_words(sources, since, until)
    if not words:
        return ""
    chips = "".join(f'<span class="qa-chip-filter">{html.escape(w)}</span>' for w in words)
    return f'<div class="qa-filters-on">Searching only articles {chips}</div>'


def filters_note(sources: list[str] | None, since: str, until: str) -> str:
    """The line an answer ends with when filters narrowed the search."""
    words = filter_words(sources, since, until)
    return f"\n\n*Searched only articles {md_escape(' and '.join(words))}.*" if words else ""


def _highlight(text: str, start: int, end: int) -> str:
    start, end = max(0, min(start, len(text))), max(0, min(end, len(text)))
    if end <= start:
        return html.escape(text)
    return (html.escape(text[:start]) + '<mark class="qa-quote">' + html.escape(text[start:end])
            + "</mark>" + html.escape(text[end:]))


def _meta_line(date: str, source: str, url: str, path: str) -> str:
    parts = [html.escape(date or "no date")]
    if source:
        parts.append(html.escape(source))
    if url.startswith(("http://", "https://")):
        parts.append(f'<a href="{html.escape(url, quote=True)}" target="_blank" '
                     f'rel="noopener noreferrer">{html.escape(url)}</a>')
    elif path:
        parts.append(html.escape(path))
    return " · ".join(parts)


def _source_item(turn: int, n: int, title: str, meta: str, passage_html: str,
                 article: Article | None, start: int, end: int) -> str:
    art_id = f"qa-art-{turn}-{n}"
    # The head stays in view while the article scrolls: what it is, and a way back.
    body = (f'<div class="qa-article" id="{art_id}" hidden><div class="qa-article-head">'
            f'<span class="qa-article-title">{html.escape(title)}<br>'
            f'<span class="qa-article-meta">{meta}</span></span>'
            f'<button class="qa-close" data-target="{art_id}" title="Close the article">'
            "✕ Close</button></div>"
            f'<div class="qa-article-text">{_highlight(article.text, start, end)}</div></div>'
            ) if article else ""
    return (f'<li class="qa-source" id="qa-src-{turn}-{n}">'
            f'<button class="qa-open" data-target="{art_id}">[{n}] {html.escape(title)}</button>'
            f'<div class="qa-meta">{meta}</div>'
            f'<blockquote class="qa-passage">{passage_html}</blockquote>{body}</li>')


def sources_html(answer: Answer, turn: int, articles: dict[str, Article], asked: str) -> str:
    """The sources of one answer: cited passages with the quote highlighted, each opening its
    full article with the quote highlighted (by the engine's offsets). Refusals list the
    closest passages instead. When a follow-up was rewritten, says what was searched for."""
    items = []
    if answer.refused:
        head = '<p class="qa-refused">The articles don\'t say. Closest passages:</p>' \
            if answer.passages else '<p class="qa-refused">The articles don\'t say.</p>'
        for n, p in enumerate(answer.passages[:3], start=1):
            # Best first; a bare similarity score ("0.36") means nothing to a reader.
            meta = _meta_line(p.date, p.source, p.url, p.source_path)
            items.append(_source_item(turn, n, p.title, meta, html.escape(p.text),
                                      articles.get(p.article_id), p.start, p.end))
    else:
        head = ""
        for c in answer.citations:
            holder = next((p for p in answer.passages if p.article_id == c.article_id
                           and p.start <= c.start and c.end <= p.end), None)
            meta = _meta_line(c.date, holder.source if holder else "", c.url, c.source_path)
            passage = (_highlight(holder.text, c.start - holder.start, c.end - holder.start)
                       if holder else html.escape(c.passage))
            items.append(_source_item(turn, c.number, c.title, meta, passage,
                                      articles.get(c.article_id), c.start, c.end))
    q = f'<div class="qa-searched">Searched for: {html.escape(answer.question)}</div>' \
        if " ".join(asked.split()) != answer.question else ""
    return (f'<div class="qa-turn-body">{q}{head}<ol class="qa-sources">{"".join(items)}</ol>'
            "</div>")


def panel_html(turns: list[dict[str, Any]]) -> str:
    """All turns' sources, newest open, older ones folded."""
    if not turns:
        return ('<p class="qa-empty">Sources of each answer appear here. Click a citation '
                "chip to open the article at the quoted passage.</p>")
    parts = []
    for i, t in enumerate(reversed(turns)):
        opened = " open" if i == 0 else ""
        parts.append(f'<details class="qa-turn" id="qa-turn-{t["turn"]}"{opened}><summary>'
                     f'{html.escape(t["question"])}</summary>{t["html"]}</details>')
    return "".join(parts)


def summary_markdown(s: RebuildSummary) -> str:
    again = f", re-embedded {s.reembedded}" if s.reembedded else ""
    lines = [f"**Rebuilt:** {s.added} added, {s.updated} updated, {s.removed} removed, "
             f"{s.unchanged} unchanged{again}, {len(s.skipped)} skipped — {s.chunks:,} chunks "
             f"({s.embedded:,} embedded) in {s.seconds:.1f} s."]
    lines += [f"- skipped {md_escape(k.path)}: {md_escape(k.reason)}" for k in s.skipped]
    lines += [f"- warning {md_escape(w.path)}: {md_escape(w.reason)}" for w in s.warnings]
    return "\n".join(lines)


def status_markdown(described: dict[str, Any]) -> str:
    """The status line from `Engine.describe()`, in plain words: "5 articles · updated 1 Dec
    2026, 18:49 · answers by qwen-0.5b (llama.cpp)"."""
    model = md_escape(described["model"])
    if described["articles"] is None:
        return f"{NO_INDEX} · answers by {model}"
    n = described["articles"]
    when = plain_time(described["updated"] or "")
    updated = f" · updated {md_escape(when)}" if when else ""
    return f"{n:,} article{'s' if n != 1 else ''}{updated} · answers by {model}"


def plain_time(stamp: str) -> str:
    """An index's ISO timestamp as people write it ("1 Dec 2026, 18:49"); "" if unreadable."""
    from datetime import datetime

    try:
        t = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        return ""
    return f"{t.day} {t:%b %Y, %H:%M}"


def example_questions(rows: list[dict[str, Any]], n: int = 3) -> list[str]:
    """Questions about the n newest indexed articles, made from their titles (an all-capitals
    wire title is put in sentence case)."""
    out = []
    for r in rows:
        title = " ".join(str(r.get("title") or "").split()).rstrip(".?!")
        if not title or len(title) > 90:
            continue
        if title.isupper():
            title = title.capitalize()
        question = f"What do the articles say about “{title}”?"
        if question not in out:
            out.append(question)
        if len(out) == n:
            break
    return out


def article_table(rows: list[dict[str, Any]], query: str, limit: int) -> list[list[Any]]:
    """The Articles tab's rows (title, date, source, chunks, file) whose title contains
    `query` (any case), at most `limit` of them."""
    q = (query or "").strip().lower()
    hits = [r for r in rows if q in r["title"].lower()] if q else rows
    return [[r["title"], r["date"], r["source"], r["chunks"], r["source_path"]]
            for r in hits[:limit]]
