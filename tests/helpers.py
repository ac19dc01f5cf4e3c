"""Helpers that inspect an index the way a reader sees it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

from qa.chunking import Chunker
from qa.corpus import read_corpus
from qa.index.reader import chunk_texts
from qa.index.schema import chunk_span, live
from qa.index.store import Store
from qa.records import Article

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "corpus" / "russia-pushes-for-peace-talks.txt"
# The workspace's shared data (the evaluation set): beside the checkout, or where QA_SHARED_DIR
# says (read once, at import: the tests themselves run without QA_* variables).
SHARED = Path(os.environ.get("QA_SHARED_DIR") or ROOT.parent / "shared")
DEV = SHARED / "eval" / "dev"
SEED_QUESTION = "Who did Russia invite to Moscow?"


def dev_articles(n: int | None = None) -> list[dict]:
    import json

    rows = [json.loads(line) for line in (DEV / "articles.jsonl").read_text().splitlines() if line]
    return rows[:n] if n else rows


def qa(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """The `qa` command run as a user runs it, in a real process."""
    return subprocess.run(
        [sys.executable, "-m", "qa", *args], capture_output=True, text=True, timeout=600,
        check=False, env={**os.environ, **(env or {})}, cwd=cwd,
    )


def stop(proc: subprocess.Popen) -> None:
    """Stop a server process a test started: terminate, then kill if it hangs."""
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(15)


def index_contents(settings) -> dict[str, list[tuple[int, int, str]]]:
    """article_id -> sorted (start, end, text) of the chunks of the committed generation."""
    store = Store(settings)
    gen = store.require_state().generation
    out: dict[str, list] = defaultdict(list)
    rows = [(m, doc) for _, m, doc in store.iter_records("chunks", live(gen),
                                                         ["metadatas", "documents"])]
    for (meta, _), text in zip(rows, chunk_texts(store, rows), strict=True):
        article_id, start, end = chunk_span(meta)
        out[article_id].append((start, end, text))
    return {k: sorted(v) for k, v in out.items()}


def total_records(settings, kind: str) -> int:
    return Store(settings).collection(kind).count()


def expected_contents(settings, embedder) -> dict[str, list[tuple[int, int, str]]]:
    chunker = Chunker(embedder.tokenizer, embedder.max_tokens, settings.chunk_size,
                      settings.chunk_overlap)
    out = {}
    for item in read_corpus(settings.corpus_dir, settings.max_file_bytes):
        if isinstance(item, Article):
            out[item.id] = sorted((c.start, c.end, c.text) for c in chunker.split(item))
    return out


def assert_index_matches_corpus(settings, embedder) -> None:
    """Exactly the chunks of the current corpus: no duplicates, no orphans, no leftovers."""
    got = index_contents(settings)
    want = expected_contents(settings, embedder)
    assert got == want
    n = sum(len(v) for v in want.values())
    assert total_records(settings, "chunks") == n
    assert total_records(settings, "articles") == len(want)
    state = Store(settings).require_state()  # the counts a rebuild commits (not scanned)
    assert (state.articles, state.chunks) == (len(want), n)
    assert_bm25_matches_chroma(settings)
    assert_manifest_matches_chroma(settings)


def assert_manifest_matches_chroma(settings) -> None:
    """The article manifest the next rebuild starts from, when it has one to trust, holds
    exactly the live article records."""
    from qa.index import manifest

    store = Store(settings)
    state = store.require_state()
    known = manifest.cached(settings, state)
    if known is not None:
        got = {rid: manifest.brief(m) for rid, m, _ in
               store.iter_records("articles", live(state.generation), ["metadatas"])}
        assert known == got


def assert_bm25_matches_chroma(settings) -> None:
    """The BM25 index queries use (the cached one on disk) holds exactly the live chunks."""
    from qa.index.sparse import SparseIndex

    store = Store(settings)
    gen = store.require_state().generation
    live_ids = {rid for rid, _, _ in store.iter_records("chunks", live(gen), [])}
    assert set(SparseIndex.load(settings, store, gen).ids) == live_ids


def free_port() -> int:
    """A loopback port nothing listens on (for serving the UI in a test)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
