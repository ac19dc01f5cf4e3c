"""Against a real Chroma server (`chroma run` from the chromadb package) on loopback: rebuild,
ask, incremental changes, kills, the writer lease, migration, and a server that is down."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from qa import Settings, rebuild
from qa.engine import Engine
from qa.errors import IndexBusyError, IndexError_
from qa.index.events import Committing
from qa.index.locks import acquire_lease, release_lease
from qa.index.store import Store
from qa.models import ScriptedLLM

from .helpers import SEED, SEED_QUESTION, assert_index_matches_corpus, dev_articles, free_port, stop

REPLY = "Russia invited opposition representatives to Moscow [1]."
CHROMA = Path(sys.executable).parent / "chroma"


def start_chroma(path: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(
        [str(CHROMA), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if httpx.get(f"{url}/api/v2/heartbeat", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.3)
    proc.kill()
    pytest.fail("the Chroma server did not start within 60 s")


@pytest.fixture(scope="module")
def chroma(tmp_path_factory):
    proc, url = start_chroma(tmp_path_factory.mktemp("chroma-data"))
    yield url
    stop(proc)


@pytest.fixture
def server_settings(chroma, corpus_dir, tmp_path):
    # A fresh collection per test on the shared server; index_dir only holds local caches.
    return Settings(corpus_dir=corpus_dir, index_dir=tmp_path / "local", chroma_url=chroma,
                    collection=f"t{uuid.uuid4().hex[:10]}")


def qa_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "qa", *args], capture_output=True, text=True,
                          timeout=600, env={**os.environ, **(env or {})}, check=False)


def test_rebuild_ask_change_and_delete_on_the_server(server_settings, embedder) -> None:
    s = server_settings
    (s.corpus_dir / "dev.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in dev_articles(8)))
    first = rebuild(s, embedder=embedder)
    assert first.added == 9 and not (s.index_dir / "chroma").exists()  # nothing stored locally
    assert_index_matches_corpus(s, embedder)
    engine = Engine(s, llm=ScriptedLLM(lambda m: REPLY), embedder=embedder)
    a = engine.ask(SEED_QUESTION)
    assert not a.refused and "invite opposition representatives" in a.citations[0].quote
    c = a.citations[0]
    assert engine.article(c.article_id).text[c.start:c.end] == c.quote
    # Edit one article, delete another: incremental, and exactly the corpus afterwards.
    rows = dev_articles(8)
    rows[0] = {**rows[0], "text": rows[0]["text"] + "\n\nA correction was appended."}
    (s.corpus_dir / "dev.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:-1]))
    second = rebuild(s, embedder=embedder)
    assert (second.updated, second.removed, second.unchanged) == (1, 1, 7)
    assert_index_matches_corpus(s, embedder)
    assert rebuild(s, embedder=embedder).embedded == 0  # no change: nothing re-embedded
    # The same engine sees the new generation without a restart.
    assert engine.ask(SEED_QUESTION).citations[0].quote == a.citations[0].quote


def test_a_server_that_is_down_is_named_in_the_error(tmp_path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(IndexError_, match=f"Chroma server at {url}"):
        Store(Settings(index_dir=tmp_path, chroma_url=url)).read_state()
    r = qa_cli("stats", "--chroma-url", url)
    assert r.returncode == 1 and f"Cannot reach the Chroma server at {url}" in r.stderr
    assert "Traceback" not in r.stderr
    r = qa_cli("rebuild", "--corpus", str(tmp_path), env={"QA_CHROMA_URL": url})
    assert r.returncode == 1 and url in r.stderr and "chroma run" in r.stderr


def test_a_server_gone_during_a_rebuild_is_a_clear_error(corpus_dir, tmp_path,
                                                        embedder) -> None:
    proc, url = start_chroma(tmp_path / "data")
    s = Settings(corpus_dir=corpus_dir, index_dir=tmp_path / "local", chroma_url=url)

    def kill_before_commit(event) -> None:
        if isinstance(event, Committing):
            stop(proc)

    try:
        with pytest.raises(IndexError_, match=f"Rebuild failed writing the index at {url}.*"
                                              "previous index is intact"):
            rebuild(s, embedder=embedder, progress=kill_before_commit)
    finally:
        stop(proc)


def test_the_writer_lease_keeps_a_second_writer_out(server_settings, embedder) -> None:
    s = server_settings
    rebuild(s, embedder=embedder)
    store = Store(s)
    acquire_lease(store, "otherhost:4242:abcd", ttl=60)
    with pytest.raises(IndexBusyError, match="otherhost:4242"):
        rebuild(s, embedder=embedder)
    release_lease(store, "otherhost:4242:abcd")
    assert rebuild(s, embedder=embedder).unchanged == 1
    # An expired lease (its writer died elsewhere) does not block forever.
    acquire_lease(store, "otherhost:4242:abcd", ttl=-1)
    assert rebuild(s, embedder=embedder).unchanged == 1


@pytest.mark.slow
@pytest.mark.parametrize("marker", ["stage=write-chunks", "stage=gc"])
def test_kill_during_a_rebuild_on_the_server(server_settings, embedder, marker) -> None:
    s = server_settings
    (s.corpus_dir / "dev.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in dev_articles(30)))
    rebuild(s, embedder=embedder)
    engine = Engine(s, llm=ScriptedLLM(lambda m: REPLY), embedder=embedder)
    before = engine.ask(SEED_QUESTION).citations[0]
    rows = dev_articles(45)
    (s.corpus_dir / "dev.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in rows[3:]))  # 3 removed, 15 added
    env = {**os.environ, "QA_CHROMA_URL": s.chroma_url, "QA_COLLECTION": s.collection,
           "QA_FLUSH_CHUNKS": "16", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "qa", "-v", "rebuild", "--corpus", str(s.corpus_dir), "--index",
         str(s.index_dir)], stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    for line in proc.stderr:
        if marker in line:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(60)
    assert proc.returncode == -signal.SIGKILL
    after = engine.ask(SEED_QUESTION).citations[0]
    assert (after.article_id, after.start, after.end) == (before.article_id, before.start,
                                                          before.end)
    # The killed writer's lease is recognised as dead; the next rebuild finishes exactly.
    rebuild(s, embedder=embedder)
    assert_index_matches_corpus(s, embedder)


def test_migrate_an_embedded_index_to_the_server(settings, embedder, chroma) -> None:
    rebuild(settings, embedder=embedder)
    collection = f"m{uuid.uuid4().hex[:10]}"
    to = ("--to-url", chroma, "--to-collection", collection)
    r = qa_cli("migrate", "--index", str(settings.index_dir), *to, "--json")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["articles"] == 1 and info["chunks"] >= 1 and info["to"] == chroma
    target = settings.model_copy(update={"chroma_url": chroma, "collection": collection})
    local = Engine(settings, llm=ScriptedLLM(lambda m: REPLY), embedder=embedder)
    remote = Engine(target, llm=ScriptedLLM(lambda m: REPLY), embedder=embedder)
    assert [p.chunk_id for p in remote.retrieve(SEED_QUESTION)] == \
        [p.chunk_id for p in local.retrieve(SEED_QUESTION)]
    assert remote.ask(SEED_QUESTION).citations == local.ask(SEED_QUESTION).citations
    # The migrated index is a normal one: incremental rebuilds continue from it.
    assert rebuild(target, embedder=embedder).unchanged == 1
    # A second migration refuses to overwrite without --replace.
    r = qa_cli("migrate", "--index", str(settings.index_dir), *to)
    assert r.returncode == 1 and "--replace" in r.stderr
    r = qa_cli("migrate", "--index", str(settings.index_dir), *to, "--replace")
    assert r.returncode == 0, r.stderr
    r = qa_cli("migrate", "--index", str(settings.index_dir))
    assert r.returncode == 2 and "exactly one target" in r.stderr


@pytest.mark.slow
def test_two_servers_share_one_chroma_and_see_a_third_process_rebuild(chroma, tmp_path) -> None:
    """Two `qa serve` replicas (real LLM) on one Chroma server; a rebuild by a third process
    becomes visible to both without restarting them."""
    from gradio_client import Client

    from .helpers import ROOT

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(SEED, corpus / SEED.name)
    collection = f"r{uuid.uuid4().hex[:10]}"
    env = {**os.environ, "QA_CHROMA_URL": chroma, "QA_COLLECTION": collection,
           "QA_MODEL_CACHE_DIR": str(ROOT / "indexes" / "models"), "QA_LLM_THREADS": "1"}
    r = subprocess.run([sys.executable, "-m", "qa", "rebuild", "--corpus", str(corpus)],
                       env=env, capture_output=True, text=True, timeout=600, check=False)
    assert r.returncode == 0, r.stderr
    procs, urls = [], []
    try:
        for i in range(2):
            port = free_port()
            log = (tmp_path / f"serve{i}.log").open("w")
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "qa", "serve", "--index", str(tmp_path / f"local{i}"),
                 "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT))
            urls.append(f"http://127.0.0.1:{port}/")
        for i in range(len(urls)):
            deadline = time.time() + 180
            while "qa is serving" not in (tmp_path / f"serve{i}.log").read_text():
                assert procs[i].poll() is None and time.time() < deadline, \
                    (tmp_path / f"serve{i}.log").read_text()
                time.sleep(0.5)
        clients = [Client(u, verbose=False) for u in urls]
        for c in clients:
            got = c.predict(SEED_QUESTION, api_name="/ask")
            assert not got["refused"] and got["citations"][0]["article_id"] == SEED.name
        (corpus / "amberline.txt").write_text(
            "Harbor City Approves Amberline Footbridge\n\nThe Harbor City council voted on "
            "Tuesday to build a pedestrian footbridge across the Velt River. The footbridge will "
            "be named the Amberline Bridge and will cost 14 million euros.\n")
        r = subprocess.run([sys.executable, "-m", "qa", "rebuild", "--corpus", str(corpus)],
                           env=env, capture_output=True, text=True, timeout=600, check=False)
        assert r.returncode == 0 and "1 added" in r.stdout, r.stderr
        for c in clients:
            got = c.predict("What will the footbridge across the Velt River be named?",
                            api_name="/ask")
            assert "Amberline" in got["answer"], got
            assert got["citations"][0]["article_id"] == "amberline.txt"
    finally:
        for p in procs:
            stop(p)


def test_the_auth_token_is_sent_and_a_refusal_is_explained(tmp_path) -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    seen = []

    class Refuses(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            seen.append(self.headers.get("Authorization"))
            self.send_response(401)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"error": "Unauthorized"}')

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Refuses)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        store = Store(Settings(index_dir=tmp_path, chroma_url=url, chroma_auth_token="s3cret"))
        with pytest.raises(IndexError_, match="refused the credentials.*QA_CHROMA_AUTH_TOKEN"):
            store.read_state()
        assert seen and seen[0] == "Bearer s3cret"
    finally:
        server.shutdown()


class _TokenProxy:
    """An auth proxy in front of the real server on loopback: `chroma run` enforces no token
    itself (it ignores CHROMA_SERVER_AUTHN_*), so a server with a token sits behind one. Its
    refusal is a 401 with a body that names no status, as a proxy's may."""

    def __init__(self, upstream: str, token: str) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        class Handler(BaseHTTPRequestHandler):
            def forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Authorization") != f"Bearer {token}":
                    self.reply(401, b"token required", {"Content-Type": "text/plain"})
                    return
                skip = {"host", "content-length", "authorization", "connection"}
                r = httpx.request(self.command, upstream + self.path, content=body,
                                  headers={k: v for k, v in self.headers.items()
                                           if k.lower() not in skip}, timeout=60)
                drop = {"content-length", "transfer-encoding", "connection", "content-encoding"}
                self.reply(r.status_code, r.content,
                           {k: v for k, v in r.headers.items() if k.lower() not in drop})

            def reply(self, status: int, content: bytes, headers: dict) -> None:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_PUT = do_DELETE = forward  # noqa: N815 - http.server's naming

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_token_reaches_the_server_and_a_wrong_one_is_named(chroma, server_settings,
                                                             embedder) -> None:
    proxy = _TokenProxy(chroma, "s3cret")
    try:
        s = server_settings.model_copy(update={"chroma_url": proxy.url,
                                                "chroma_auth_token": "s3cret"})
        assert rebuild(s, embedder=embedder).added == 1
        assert_index_matches_corpus(s, embedder)
        for token in ("wrong", None):
            refused = Store(s.model_copy(update={"chroma_auth_token": token}))
            with pytest.raises(IndexError_, match="refused the credentials.*QA_CHROMA_AUTH_TOKEN"):
                refused.read_state()
        assert Store(s).require_state().articles == 1
    finally:
        proxy.close()
