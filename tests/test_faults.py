"""Faults a user meets: the disk fills up or the index folder is read-only during a rebuild, the
LLM server dies in the middle of an answer. Each is a clear message; the previous index keeps
answering; the next attempt works."""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from qa import rebuild
from qa.engine import Engine
from qa.models import ScriptedLLM

from .helpers import SEED_QUESTION, assert_index_matches_corpus, dev_articles

REPLY = "Russia invited opposition representatives to Moscow [1]."


def _grow_corpus(settings, n_from: int, n_to: int) -> None:
    rows = dev_articles(n_to)[n_from:]
    (settings.corpus_dir / "more.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def _seed_citation(settings, embedder):
    return Engine(settings, llm=ScriptedLLM(lambda m: REPLY), embedder=embedder).ask(
        SEED_QUESTION).citations[0]


def _qa_rebuild(settings, preexec=None, prefix=()) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*prefix, sys.executable, "-m", "qa", "rebuild", "--corpus", str(settings.corpus_dir),
         "--index", str(settings.index_dir)],
        capture_output=True, text=True, timeout=600, preexec_fn=preexec, check=False,
    )


@pytest.mark.slow
def test_disk_full_during_a_rebuild(settings, embedder) -> None:
    _grow_corpus(settings, 0, 10)
    rebuild(settings, embedder=embedder)
    before = _seed_citation(settings, embedder)
    _grow_corpus(settings, 0, 80)  # 70 new articles to write
    biggest = max(p.stat().st_size for p in settings.index_dir.rglob("*") if p.is_file())
    limit = biggest + 16_384  # files may grow by 16 KB, then writes fail like on a full disk

    def small_disk() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a kill
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    r = _qa_rebuild(settings, preexec=small_disk)
    assert r.returncode == 1, r.stderr
    assert "Rebuild failed writing the index" in r.stderr or "Cannot" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and "previous index is intact" in r.stderr
    after = _seed_citation(settings, embedder)
    assert (after.article_id, after.start, after.end) == (before.article_id, before.start,
                                                          before.end)
    rebuild(settings, embedder=embedder)  # space again: the next rebuild ends exactly right
    assert_index_matches_corpus(settings, embedder)


@pytest.mark.slow
def test_read_only_index_folder(settings, embedder) -> None:
    rebuild(settings, embedder=embedder)
    before = _seed_citation(settings, embedder)
    _grow_corpus(settings, 0, 5)
    prefix: tuple[str, ...] = ()
    if os.geteuid() == 0:  # root ignores file modes unless it gives up that capability
        setpriv = shutil.which("setpriv")
        if not setpriv:
            pytest.fail("setpriv (util-linux) is needed to test a read-only folder as root")
        prefix = (setpriv, "--bounding-set=-dac_override,-dac_read_search,-fowner")
    for target in (settings.index_dir / "chroma", settings.index_dir):
        subprocess.run(["chmod", "-R", "a-w", str(target)], check=True)
        try:
            r = _qa_rebuild(settings, prefix=prefix)
        finally:
            subprocess.run(["chmod", "-R", "u+w", str(target)], check=True)
        assert r.returncode == 1, r.stderr
        assert "Traceback" not in r.stderr
        assert "writ" in r.stderr or "readonly" in r.stderr, r.stderr  # names the problem
        after = _seed_citation(settings, embedder)
        assert (after.article_id, after.start, after.end) == (before.article_id, before.start,
                                                              before.end)
    rebuild(settings, embedder=embedder)
    assert_index_matches_corpus(settings, embedder)


class _DyingServer(BaseHTTPRequestHandler):
    """An OpenAI-compatible server whose first answer breaks off in the middle."""

    calls = 0
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802
        self._send(json.dumps({"data": [{"id": "fake"}]}).encode())

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).calls += 1
        words = REPLY.split(" ")
        if body.get("stream"):
            events = [json.dumps({"id": "c", "object": "chat.completion.chunk", "created": 0,
                                  "model": "fake", "choices": [{"index": 0, "delta": {
                                      "role": "assistant", "content": (" " if i else "") + w},
                                      "finish_reason": None}]}) for i, w in enumerate(words)]
            data = "".join(f"data: {e}\n\n" for e in events) + "data: [DONE]\n\n"
            ctype = "text/event-stream"
        else:
            data = json.dumps({"id": "c", "object": "chat.completion", "created": 0,
                               "model": "fake", "choices": [{"index": 0, "finish_reason": "stop",
                               "message": {"role": "assistant", "content": REPLY}}]})
            ctype = "application/json"
        raw = data.encode()
        if type(self).calls == 1:  # promise the whole body, send a third, hang up
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw[: len(raw) // 3])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return
        self._send(raw, ctype)

    def _send(self, raw: bytes, ctype: str = "application/json") -> None:
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def dying_server():
    _DyingServer.calls = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), _DyingServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/v1"
    server.shutdown()


@pytest.mark.parametrize("as_json", [False, True])
def test_llm_server_dying_mid_answer_in_the_cli(settings, embedder, dying_server,
                                                as_json) -> None:
    rebuild(settings, embedder=embedder)
    env = {**os.environ, "QA_LLM_BACKEND": "openai", "QA_OPENAI_BASE_URL": dying_server,
           "QA_OPENAI_MODEL": "fake"}
    cmd = [sys.executable, "-m", "qa", "ask", SEED_QUESTION, "--corpus",
           str(settings.corpus_dir), "--index", str(settings.index_dir),
           *(["--json"] if as_json else [])]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, check=False)
    assert r.returncode == 1, (r.stdout, r.stderr)
    # Under --json the error is JSON on stdout (exit code included), else a line on stderr.
    message = json.loads(r.stdout)["error"] if as_json else r.stderr
    assert "LLM server" in message and "middle of the answer" in message, message
    assert "Traceback" not in r.stderr
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, check=False)
    assert r.returncode == 0, r.stderr  # the next question works
    assert "invite opposition representatives" in r.stdout


def test_llm_server_dying_mid_answer_in_the_engine(settings, embedder, dying_server) -> None:
    from qa.errors import LLMError

    rebuild(settings, embedder=embedder)
    engine = Engine(settings.model_copy(update={
        "llm_backend": "openai", "openai_base_url": dying_server, "openai_model": "fake"}),
        embedder=embedder)
    got = []
    with pytest.raises(LLMError, match="middle of the answer"):
        for event in engine.stream(SEED_QUESTION):
            got.append(event)
    assert engine.ask(SEED_QUESTION).citations  # the next question works
