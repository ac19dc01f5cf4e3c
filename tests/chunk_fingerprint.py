"""The chunking of the news evaluation set, saved as a fingerprint: every chunk's number and
character span, article by article. Faster chunking must make exactly these chunks.

    python -m tests.chunk_fingerprint --check  # compare all 609 articles' chunks with it
    python -m tests.chunk_fingerprint          # rewrite tests/data/news_chunks.tsv (only when
                                               # the chunking is meant to change)
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from qa.chunking import Chunker
from qa.corpus.readers import read_file
from qa.records import Article

from .helpers import SHARED

NEWS = SHARED / "eval" / "news" / "articles.jsonl"
FINGERPRINT = Path(__file__).resolve().parent / "data" / "news_chunks.tsv"
CHUNK_SIZE, CHUNK_OVERLAP = 200, 30  # the Settings defaults the fingerprint was made with


def source_digest() -> str:
    return hashlib.sha256(NEWS.read_bytes()).hexdigest()[:16]


def news_articles() -> list[Article]:
    """The articles exactly as a rebuild reads them (ids `articles.jsonl#mhr-aNNN`)."""
    items = read_file(NEWS, NEWS.name, NEWS.parent.resolve(), 100_000_000)
    return [a for a in items if isinstance(a, Article)]


def spans(chunker: Chunker, article: Article) -> str:
    """'start-end,start-end,...' of the article's chunks, in chunk-number order."""
    chunks = chunker.split(article)
    assert [c.number for c in chunks] == list(range(len(chunks)))
    return ",".join(f"{c.start}-{c.end}" for c in chunks)


def load() -> tuple[str, dict[str, str]]:
    """(digest of the articles file it was made from, {article id: spans})."""
    lines = FINGERPRINT.read_text().splitlines()
    digest = lines[0].split("\t")[1]
    return digest, dict(line.split("\t", 1) for line in lines[1:])


def main() -> None:
    import sys

    from qa.models.embed import Embedder

    embedder = Embedder()
    chunker = Chunker(embedder.tokenizer, embedder.max_tokens, CHUNK_SIZE, CHUNK_OVERLAP)
    got = {a.id: spans(chunker, a) for a in news_articles()}
    if "--check" in sys.argv[1:]:
        digest, want = load()
        differ = [aid for aid in want if got.get(aid) != want[aid]]
        same_source = digest == source_digest()
        print(f"{len(want) - len(differ)} of {len(want)} articles chunk as recorded"
              + ("" if same_source else f" (but {NEWS} changed since)"))
        sys.exit(1 if differ or not same_source or len(got) != len(want) else 0)
    rows = [f"# sha256[:16] of articles.jsonl\t{source_digest()}"]
    rows += [f"{aid}\t{s}" for aid, s in got.items()]
    FINGERPRINT.write_text("\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
