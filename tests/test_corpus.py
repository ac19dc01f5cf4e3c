"""Readers: every format, metadata, and every kind of bad file named with its reason."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from qa.corpus import Warned, normalize_date, read_corpus
from qa.records import Article, Skipped

from .helpers import SEED


def _read(root: Path, **kw):
    items = list(read_corpus(root, **kw))
    arts = {i.id: i for i in items if isinstance(i, Article)}
    skipped = {i.path: i.reason for i in items
               if isinstance(i, Skipped) and not isinstance(i, Warned)}
    warned = {i.path: i.reason for i in items if isinstance(i, Warned)}
    return arts, skipped, warned


def test_seed_article_is_read_with_its_title(corpus_dir: Path) -> None:
    arts, skipped, _ = _read(corpus_dir)
    a = arts["russia-pushes-for-peace-talks.txt"]
    assert a.title == "Russia Pushes For Peace Talks to End Syrian Crisis"
    assert "invite opposition representatives" in a.text
    assert len(a.content_hash) == 32 and not skipped


def test_markdown_front_matter(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.md").write_text(
        "---\ntitle: Oil prices rise\nurl: https://example.com/oil\ndate: 12 March 1987\n"
        "source: Reuters\nauthor: Jane Roe\n---\n# Heading\n\nCrude rose two dollars.\n"
    )
    (tmp_path / "b.md").write_text("\n\n# Plain title\n\nBody text here.\n")
    arts, _, _ = _read(tmp_path)
    a = arts["sub/a.md"]
    assert (a.title, a.url, a.date, a.source, a.author) == (
        "Oil prices rise", "https://example.com/oil", "1987-03-12", "Reuters", "Jane Roe")
    assert a.text.startswith("# Heading") and "title:" not in a.text
    assert arts["b.md"].title == "Plain title"


def test_html_reader_keeps_the_article_and_drops_the_page_around_it(tmp_path: Path) -> None:
    paras = ["First <b>bold</b> sentence of a story long enough to be an article paragraph, "
             "as the extractor expects of real pages.",
             "Second paragraph, with more words about the same event and what officials said "
             "about it on Tuesday evening."]
    (tmp_path / "p.html").write_text(
        "<html><head><title>Page title</title>"
        '<meta property="article:published_time" content="2015-11-03T10:00:00Z">'
        '<meta property="og:url" content="https://news.example/x?utm_source=feed">'
        '<meta property="og:site_name" content="Example News">'
        '<meta name="author" content="Ann Lee">'
        "<style>body{color:red}</style></head><body><nav><a href='/'>Home</a></nav>"
        "<article><h1>Headline</h1><script>alert('x')</script>"
        + "".join(f"<p>{p}</p>" for p in paras)
        + "</article><footer><p>Copyright Example News, all rights reserved.</p></footer>"
        "</body></html>"
    )
    arts, _, _ = _read(tmp_path)
    a = arts["p.html"]
    assert (a.title, a.date, a.source, a.author) == ("Headline", "2015-11-03", "Example News",
                                                     "Ann Lee")
    assert a.url == "https://news.example/x"  # the tracking parameter is dropped
    assert a.text == "\n\n".join(p.replace("<b>", "").replace("</b>", "") for p in paras)


def test_seed_read_from_its_html_page_leaves_the_comment_form_out(tmp_path: Path) -> None:
    from .newspages import seed_page

    page, text = seed_page()
    (tmp_path / "seed.html").write_text(page)
    arts, _, _ = _read(tmp_path)
    a = arts["seed.html"]
    assert "Leave a Reply" not in a.text and "will not be published" not in a.text
    assert a.text == text
    assert "Leave a Reply" in SEED.read_text()  # what the .txt copy still carries


def test_json_and_jsonl_records(tmp_path: Path) -> None:
    (tmp_path / "list.json").write_text(json.dumps([
        {"id": "x1", "title": "T1", "text": "Alpha text.", "date": "1987-02-26"},
        {"text": "Beta text without id."},
        {"id": "bad", "title": 5},
    ]))
    (tmp_path / "a.jsonl").write_text(
        json.dumps({"id": "r1", "text": "Gamma.", "source": "Reuters"}) + "\n"
        "{not json\n"
        + json.dumps(["not", "an", "object"]) + "\n"
        + json.dumps({"id": "r2", "text": "Delta.", "title": 42}) + "\n"
    )
    arts, skipped, _ = _read(tmp_path)
    assert arts["list.json#x1"].date == "1987-02-26"
    assert arts["list.json#1"].title == "Beta text without id."
    assert arts["a.jsonl#r1"].source == "Reuters"
    assert arts["a.jsonl#r2"].title == "42"
    assert any(p == "a.jsonl, line 2" and "malformed JSON" in r for p, r in skipped.items())
    assert any("a.jsonl" in p and "not a JSON object" in r for p, r in skipped.items())
    assert any("list.json" in p and '"text"' in r for p, r in skipped.items())


def test_hostile_files_are_skipped_with_reasons(tmp_path: Path) -> None:
    root = tmp_path / "c"
    root.mkdir()
    (root / "good.txt").write_text("Good title\n\nGood body.")
    (root / "empty.txt").write_text("")
    (root / "blank.md").write_text("  \n\t\n")
    (root / "bin.txt").write_bytes(b"\x00\x01\x02binary\xff" * 50)
    (root / "latin1.txt").write_bytes("Caf\xe9 title\n\nna\xefve body".encode("latin-1"))
    (root / "big.txt").write_text("x" * 2000)
    (root / "broken.json").write_text('{"text": "unterminated')
    (root / "notes.pdf").write_bytes(b"%PDF-1.4")
    (root / "none.json").write_text("[]")  # found by the corpus fuzzer: once silently ignored
    outside = tmp_path / "secret.txt"
    outside.write_text("Secret\n\nOutside the corpus.")
    os.symlink(outside, root / "link.txt")
    os.symlink(root / "loop.txt", root / "loop.txt")
    (root / "locked.txt").write_text("Locked\n\nbody")
    os.chmod(root / "locked.txt", 0)
    arts, skipped, warned = _read(root, max_file_bytes=1000)
    assert "good.txt" in arts
    assert "latin1.txt" in arts and "\ufffd" in arts["latin1.txt"].text
    assert "invalid UTF-8" in warned["latin1.txt"]
    assert skipped["empty.txt"] == "empty file"
    assert skipped["blank.md"] == "empty file"
    assert "binary" in skipped["bin.txt"]
    assert "limit" in skipped["big.txt"]
    assert "malformed JSON" in skipped["broken.json"]
    assert "no records" in skipped["none.json"]
    assert "unsupported file type .pdf" in skipped["notes.pdf"]
    assert "outside the corpus" in skipped["link.txt"]
    assert "loop" in skipped["loop.txt"]
    if os.geteuid() != 0:  # root reads files whatever their mode
        assert "cannot read" in skipped["locked.txt"]
    assert not any("Secret" in a.text for a in arts.values())


def test_symlinked_directory_outside_is_reported(tmp_path: Path) -> None:
    root = tmp_path / "c"
    root.mkdir()
    (root / "a.txt").write_text("A\n\nbody")
    other = tmp_path / "other"
    other.mkdir()
    (other / "x.txt").write_text("X\n\nbody")
    os.symlink(other, root / "elsewhere")
    arts, skipped, _ = _read(root)
    assert list(arts) == ["a.txt"]
    assert "outside" in skipped["elsewhere"]


@pytest.mark.parametrize("raw,iso", [
    ("2015-11-03", "2015-11-03"), ("2015-11-03T10:00:00Z", "2015-11-03"),
    ("26-FEB-1987 15:01:01.79", "1987-02-26"), ("March 3, 1987", "1987-03-03"),
    ("Tue, 03 Nov 2015 10:00:00 +0000", "2015-11-03"), ("yesterday", ""), (None, ""),
])
def test_normalize_date(raw, iso) -> None:
    assert normalize_date(raw) == iso


def test_dev_articles_jsonl_reads_completely(tmp_path: Path) -> None:
    from .helpers import DEV

    arts, skipped, _ = _read(DEV)
    n = sum(1 for line in (DEV / "articles.jsonl").read_text().splitlines() if line.strip())
    assert len([a for a in arts if a.startswith("articles.jsonl#")]) == n
    assert not {p: r for p, r in skipped.items() if p.startswith("articles.jsonl")}
    assert SEED.exists()


def test_count_files_and_file_of(tmp_path: Path) -> None:
    from qa.corpus import count_files, file_of

    (tmp_path / "a.jsonl").write_text('{"text": "x"}\n{bad\n')
    (tmp_path / "b.txt").write_text("B\n\nbody")
    (tmp_path / ".hidden.txt").write_text("H\n\nbody")
    assert count_files(tmp_path) == 2
    items = list(read_corpus(tmp_path))
    assert [file_of(i) for i in items] == ["a.jsonl", "a.jsonl", "b.txt"]


def test_notes_keep_the_file_and_the_place_in_it_apart(tmp_path: Path) -> None:
    from qa.records import RebuildSummary

    (tmp_path / "a.jsonl").write_text('{"text": "x"}\n{bad\n[1]\n')
    (tmp_path / "b.json").write_text('[{"text": "y"}, 5]')
    (tmp_path / "c.txt").write_bytes("Caf\xe9\n\nbody".encode("latin-1"))
    notes = [i for i in read_corpus(tmp_path) if not isinstance(i, Article)]
    assert [(n.file, n.where, n.path) for n in notes] == [
        ("a.jsonl", ", line 2", "a.jsonl, line 2"), ("a.jsonl", ", line 3", "a.jsonl, line 3"),
        ("b.json", ", record 2", "b.json, record 2"), ("c.txt", "", "c.txt")]
    warned = notes[-1]
    assert isinstance(warned, Warned) and not isinstance(warned, Skipped)
    # The JSON of `qa rebuild --json` (README): {"path", "reason"} for both kinds of note.
    d = RebuildSummary(skipped=notes[:1], warnings=[warned]).to_dict()
    assert d["skipped"] == [{"path": "a.jsonl, line 2", "reason": notes[0].reason}]
    assert d["warnings"] == [{"path": "c.txt", "reason": warned.reason}]
