"""One corpus file -> Article records (txt, md, html, json, jsonl) or Skipped/Warned notes."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from qa.corpus.dates import normalize_date
from qa.records import Article, Skipped, Warned

TEXT_SUFFIXES = {".txt", ".md", ".markdown"}
HTML_SUFFIXES = {".html", ".htm"}
JSON_SUFFIXES = {".json", ".jsonl"}
SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | JSON_SUFFIXES
META_FIELDS = ("title", "url", "date", "source", "author")


Item = Article | Skipped | Warned


def read_file(path: Path, rel: str, real_root: Path, max_file_bytes: int) -> Iterator[Item]:
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        yield Skipped(rel, "", f"unsupported file type {suffix or '(none)'}; use .txt, .md, "
                      ".html, .json or .jsonl")
        return
    if path.is_symlink():
        try:
            target = path.resolve(strict=True)
        except (OSError, RuntimeError):
            yield Skipped(rel, "", "broken symlink or symlink loop")
            return
        if not target.is_relative_to(real_root):
            yield Skipped(rel, "", "symlink points outside the corpus folder")
            return
    try:
        size = path.stat().st_size
        if size > max_file_bytes:
            yield Skipped(rel, "", f"file is {size:,} bytes, over the {max_file_bytes:,}-byte "
                          "limit (max_file_bytes)")
            return
        if not path.is_file():
            yield Skipped(rel, "", "not a regular file")
            return
        with open(path, "rb") as fh:
            data = fh.read(max_file_bytes + 1)
    except OSError as exc:
        yield Skipped(rel, "", f"cannot read file: {exc.strerror or exc}")
        return
    if len(data) > max_file_bytes:
        yield Skipped(rel, "",
                      f"file is over the {max_file_bytes:,}-byte limit (max_file_bytes)")
        return
    if not data.strip():
        yield Skipped(rel, "", "empty file")
        return
    if looks_binary(data):
        yield Skipped(rel, "", "binary data, not text")
        return
    text, replaced = _decode(data)
    if replaced:
        yield Warned(rel, "", "invalid UTF-8: undecodable bytes were replaced with U+FFFD")
    try:
        if suffix in TEXT_SUFFIXES:
            items = [_from_text(text, rel, markdown=suffix != ".txt")]
        elif suffix in HTML_SUFFIXES:
            items = [_from_html(text, rel)]
        elif suffix == ".json":
            items = list(_from_json(text, rel))
        else:
            items = list(_from_jsonl(text, rel))
    except RecursionError:
        yield Skipped(rel, "", "document is nested too deeply to parse")
        return
    for item in items:
        if item is None:
            yield Skipped(rel, "", "no readable text")
        else:
            yield item


_CONTROL_BYTES = bytes(b for b in range(32) if b not in (9, 10, 12, 13))


def looks_binary(data: bytes) -> bool:
    head = data[:8192]
    if b"\x00" in head:
        return True
    # Many C0 control characters (other than whitespace) mean this is not prose.
    controls = len(head) - len(head.translate(None, _CONTROL_BYTES))
    return controls > max(8, len(head) // 20)


def _decode(data: bytes) -> tuple[str, bool]:
    try:
        text = data.decode("utf-8-sig")
        replaced = False
    except UnicodeDecodeError:
        text = data.decode("utf-8", errors="replace").lstrip("\ufeff")
        replaced = True
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    return text, replaced


# --- text and markdown ---------------------------------------------------------------------

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)---[ \t]*\n", re.DOTALL)


def _from_text(text: str, rel: str, markdown: bool) -> Article | None:
    meta: dict[str, Any] = {}
    m = _FRONT_MATTER.match(text)
    if m:
        import yaml

        try:
            loaded = yaml.safe_load(m.group(1))
        except yaml.YAMLError:
            loaded = None
        if isinstance(loaded, dict):
            meta = loaded
            text = text[m.end():]
    body = text.strip()
    if not body:
        return None
    title = _str(meta.get("title"))
    if not title:
        first = next(line for line in body.splitlines() if line.strip())
        title = first.strip().lstrip("#").strip() if markdown else first.strip()
    return make_article(rel, body, {**meta, "title": title}, source_path=rel)


# --- html ----------------------------------------------------------------------------------

def _from_html(html: str, rel: str) -> Article | None:
    """The page's article through the same extractor as pages fetched by URL (boilerplate
    out; title, date, author, site name and canonical URL from the markup)."""
    from qa.corpus.extract import extract_article

    found = extract_article(html)
    if found is None:
        return None
    return make_article(rel, found.text, found.front_matter(), source_path=rel)


# --- json and jsonl ------------------------------------------------------------------------

def _from_json(text: str, rel: str) -> Iterator[Item]:
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        yield Skipped(rel, "", f"malformed JSON: {exc}")
        return
    if isinstance(data, dict) and isinstance(data.get("articles"), list):
        data = data["articles"]
    records = data if isinstance(data, list) else [data]
    if not records:
        yield Skipped(rel, "", "no records: the JSON list is empty")
    for i, obj in enumerate(records):
        yield _from_record(obj, rel, f", record {i + 1}", i)


def _from_jsonl(text: str, rel: str) -> Iterator[Item]:
    for lineno, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as exc:
            detail = exc.msg if hasattr(exc, "msg") else exc
            yield Skipped(rel, f", line {lineno}", f"malformed JSON line: {detail}")
            continue
        yield _from_record(obj, rel, f", line {lineno}", lineno)


def _from_record(obj: Any, rel: str, where: str, index: int) -> Item:
    if not isinstance(obj, dict):
        return Skipped(rel, where, "record is not a JSON object")
    body = obj.get("text")
    if not isinstance(body, str) or not body.strip():
        return Skipped(rel, where, "record has no \"text\" string")
    body = body.replace("\r\n", "\n").replace("\x00", "").strip()
    rid = _str(obj.get("id")) or str(index)
    meta = {k: obj.get(k) for k in META_FIELDS}
    if not _str(meta["title"]):
        meta["title"] = next(line for line in body.splitlines() if line.strip()).strip()[:200]
    return make_article(f"{rel}#{rid}", body, meta, source_path=rel)


# --- shared --------------------------------------------------------------------------------

def make_article(article_id: str, text: str, meta: dict[str, Any], source_path: str) -> Article:
    title = " ".join(_str(meta.get("title")).split())[:500]
    fields = {
        "title": title,
        "url": _str(meta.get("url")),
        "date": normalize_date(meta.get("date")),
        "source": _str(meta.get("source")),
        "author": _str(meta.get("author")),
    }
    digest = hashlib.sha256()
    digest.update(json.dumps(fields, sort_keys=True).encode())
    digest.update(b"\x00")
    digest.update(text.encode("utf-8", errors="surrogatepass"))
    return Article(
        id=article_id,
        text=text,
        source_path=source_path,
        content_hash=digest.hexdigest()[:32],
        **fields,
    )


def _str(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ", ".join(_str(v) for v in value)
    return str(value).strip()
