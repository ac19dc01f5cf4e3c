"""Corpus fuzzing: hypothesis builds folders of hostile files beside good ones and runs a real
rebuild. It never crashes, every good file is indexed, and every file is accounted for: indexed,
or named in the summary with a reason."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qa import Settings, rebuild
from qa.corpus import file_of

from .helpers import dev_articles, index_contents

GOOD = [a["text"][:500] for a in dev_articles(10)]
WORD = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40)

hostile = st.one_of(
    st.tuples(st.just(".txt"), st.binary(max_size=3000)),                          # random bytes
    st.tuples(st.just(".txt"), WORD.map(lambda w: (f"T\n\n{w}\x00{w}" * 20).encode())),  # NULs
    st.tuples(st.just(".md"), st.integers(2000, 20000).map(lambda n: ("w" * 7 + " ") .join(
        [""] * (n // 8)).encode() or b"x")),                                        # one huge line
    st.tuples(st.sampled_from([".txt", ".md"]), WORD.map(
        lambda w: f"Caf\xe9 {w}\n\nna\xefve".encode("latin-1", "replace"))),       # latin-1
    st.tuples(st.just(".txt"), WORD.map(lambda w: f"Title\n\n{w} body".encode("utf-16"))),
    st.tuples(st.just(".html"), st.integers(10, 3000).map(
        lambda d: ("<div>" * d + "deep text" + "</div>" * (d // 2)).encode())),   # nested HTML
    st.tuples(st.just(".html"), WORD.map(
        lambda w: f"<html><title>{w}<p>unclosed <b>bold <script>x({w!r}".encode())),  # broken
    st.tuples(st.just(".json"), st.recursive(
        st.none() | st.booleans() | st.integers() | WORD,
        lambda c: st.lists(c, max_size=3) | st.dictionaries(
            st.sampled_from(["title", "text", "date", "url", "id"]), c, max_size=4),
        max_leaves=8).map(lambda v: json.dumps(v).encode())),                         # wrong types
    st.tuples(st.just(".jsonl"), st.lists(st.one_of(
        st.just('{"text": "A fine record about wheat prices."}'), WORD,
        st.just('{"text": 7}'), st.just("[]")), max_size=4).map(
        lambda lines: "\n".join(lines).encode())),
    st.tuples(st.sampled_from([".txt", ".md", ".json", ".html"]),
              st.sampled_from([b"", b"   \n\t  \n", b"\xef\xbb\xbf"])),             # empty
)


@pytest.mark.slow
@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(files=st.lists(hostile, min_size=1, max_size=6), good=st.sampled_from(GOOD),
       loops=st.booleans())
def test_hostile_corpus_never_breaks_a_rebuild(embedder, files, good, loops) -> None:
    root = Path(tempfile.mkdtemp(prefix="qa-fuzz-"))
    try:
        corpus = root / "corpus"
        corpus.mkdir()
        (corpus / "good.txt").write_text(f"A good article\n\n{good}\n")
        names = []
        for i, (suffix, data) in enumerate(files):
            name = f"f{i}{suffix}"
            (corpus / name).write_bytes(data)
            names.append(name)
        if loops:
            os.symlink(corpus / "loop-b.txt", corpus / "loop-a.txt")
            os.symlink(corpus / "loop-a.txt", corpus / "loop-b.txt")
            os.symlink(corpus, corpus / "self-dir")
            names += ["loop-a.txt", "loop-b.txt"]
        s = Settings(corpus_dir=corpus, index_dir=root / "index", max_file_bytes=200_000)
        summary = rebuild(s, embedder=embedder)
        indexed = index_contents(s)
        assert "good.txt" in indexed  # every good file is indexed
        indexed_files = {aid.split(":")[0].split("#")[0] for aid in indexed}
        named = {file_of(k) for k in summary.skipped}
        assert all(k.reason.strip() for k in summary.skipped + summary.warnings)
        for name in names:  # every file is indexed or named with its reason
            assert name in indexed_files or name in named or any(
                a.startswith(name) for a in indexed), (name, summary.skipped)
    finally:
        shutil.rmtree(root, ignore_errors=True)
