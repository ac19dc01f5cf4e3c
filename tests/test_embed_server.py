"""The openai embedding backend against a real server: infinity-emb on 127.0.0.1 serving the
bundled all-MiniLM-L6-v2 from its local folder (tests/embed_server.py), offline.

Slow: the server's venv is made on first use (~2 min from PyPI), and each start takes ~15 s.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from qa import ConfigError, EmbeddingServerError, Settings, rebuild
from qa.chunking import Chunker
from qa.index.events import ChunksWritten
from qa.index.store import Store
from qa.models.embed import Embedder, resolve_model_path
from qa.retrieve import Retriever

from .embed_server import SERVED_NAME, VENV, EmbedServer, install
from .helpers import SEED_QUESTION, assert_index_matches_corpus, dev_articles, index_contents

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    why = install(VENV)
    if why:
        pytest.skip(f"infinity-emb could not be installed in {VENV}: {why}")
    srv = EmbedServer(VENV, resolve_model_path(None),
                      tmp_path_factory.mktemp("infinity") / "server.log")
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def served(settings, server) -> Settings:
    # One retry, so that a dead server is reported within a second.
    return settings.model_copy(update={"embed_backend": "openai", "embed_model": SERVED_NAME,
                                       "embed_base_url": server.base_url, "embed_retries": 1})


def _write_articles(corpus, rows) -> None:
    import json

    with (corpus / "dev.jsonl").open("w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")


def test_vectors_match_the_local_torch_backend(served, embedder) -> None:
    chunker = Chunker(embedder.tokenizer, embedder.max_tokens, 200, 30)
    from qa.corpus import make_article

    texts = [c.text for r in dev_articles(15)
             for c in chunker.split(make_article(r["id"], r["text"], r, "d.jsonl"))]
    texts = texts[:150] + ["Who did Russia invite to Moscow?", "x"]
    remote = Embedder.from_settings(served).encode(texts)
    local = Embedder(backend="torch").encode(texts)
    cosine = (remote * local).sum(axis=1)
    assert remote.shape == local.shape == (len(texts), 384)
    assert np.allclose(np.linalg.norm(remote, axis=1), 1.0, atol=1e-5)
    assert cosine.min() >= 0.99, f"min cosine {cosine.min():.4f}"


def test_index_records_the_server_model_and_switching_demands_full(served, embedder) -> None:
    summary = rebuild(served)
    assert summary.added == 1
    state = Store(served).require_state()
    assert state.embed_model == f"{SERVED_NAME}:openai"
    remote = Embedder.from_settings(served)
    top = Retriever(served, Store(served), remote).retrieve(SEED_QUESTION, top_k=1)
    assert "invite opposition representatives" in top[0].text
    assert_index_matches_corpus(served, embedder)

    local = served.model_copy(update={"embed_backend": None, "embed_model": None})
    (served.corpus_dir / "new.txt").write_text("Amberline\n\nAmberline bought four ferries.\n")
    with pytest.raises(ConfigError, match=r"rebuild --full.*QA_EMBED_BACKEND=openai"):
        rebuild(local)
    with pytest.raises(ConfigError, match=r"QA_EMBED_MODEL=minilm"):
        Retriever(local, Store(local), Embedder()).retrieve(SEED_QUESTION)
    summary = rebuild(local.model_copy(update={"embed_backend": "torch"}), full=True)
    assert summary.embedded == summary.chunks > 0
    assert Store(local).require_state().embed_model.endswith(":torch-fp32")


def test_server_killed_mid_rebuild_keeps_the_old_generation(served, server, embedder,
                                                            tmp_path) -> None:
    rows = dev_articles()  # all 88: ~150 chunks
    _write_articles(served.corpus_dir, rows[:5])
    rebuild(served)
    before = index_contents(served)
    remote = Embedder.from_settings(served)
    asked = [p.chunk_id for p in Retriever(served, Store(served), remote).retrieve(SEED_QUESTION)]

    _write_articles(served.corpus_dir, rows)  # 83 more articles
    # The first flush embeds 64 chunks, later ones 16: when the first is written (and the
    # server killed), at least three flushes are still to embed.
    served = served.model_copy(update={"flush_chunks": 16})
    from .helpers import expected_contents

    assert sum(map(len, expected_contents(served, embedder).values())) >= 64 + 3 * 16
    written = []

    def progress(event) -> None:
        if isinstance(event, ChunksWritten):
            written.append(event)
            server.kill()  # after the first chunks of the new generation are written

    try:
        with pytest.raises(EmbeddingServerError, match=server.base_url.replace(".", r"\.")):
            rebuild(served, progress=progress)
        assert written, "the server died before any chunk of the new generation was written"
        state = Store(served).require_state()
        assert state.generation == 1
        assert index_contents(served) == before
        # Questions about the old generation fail only for want of the server's vectors; with
        # the server back they get the same passages as before the failed rebuild.
        server.start()
        again = Retriever(served, Store(served), Embedder.from_settings(served))
        assert [p.chunk_id for p in again.retrieve(SEED_QUESTION)] == asked
        summary = rebuild(served)
        assert summary.generation == 2 and summary.added == 83
        assert_index_matches_corpus(served, embedder)
    finally:
        if server.proc is None or server.proc.poll() is not None:
            server.start()
    shutil.rmtree(served.index_dir, ignore_errors=True)
