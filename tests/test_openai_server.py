"""The `openai` backend against a real OpenAI-compatible server on loopback: llama-cpp-python's
own server running the bundled GGUF. Streaming and non-streaming answers keep the citation
contract; a server that is down, a wrong model name and a timeout are clear errors."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import httpx
import pytest

from qa import Settings, rebuild
from qa.engine import Engine
from qa.errors import LLMError
from qa.models import model_path
from qa.records import Answer

from .helpers import ROOT, SEED, SEED_QUESTION, free_port, stop

pytestmark = pytest.mark.slow
MODELS = ROOT / "indexes" / "models"


@pytest.fixture(scope="module")
def llm_server(tmp_path_factory):
    gguf = model_path(Settings(model_cache_dir=MODELS))  # assembled and SHA-256 verified
    port = free_port()
    log_path = tmp_path_factory.mktemp("llm") / "server.log"
    log = log_path.open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias",
         "qwen-0.5b", "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096",
         "--n_threads", str(os.cpu_count() or 2)],
        stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.time() + 180
    while time.time() < deadline:
        try:
            if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert proc.poll() is None, log_path.read_text()[-3000:]
        time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("the llama.cpp server did not start in 180 s")
    yield url
    stop(proc)
    log.close()


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    root = tmp_path_factory.mktemp("oai")
    (root / "corpus").mkdir()
    (root / "corpus" / SEED.name).write_text(SEED.read_text())
    settings = Settings(corpus_dir=root / "corpus", index_dir=root / "index")
    rebuild(settings)
    return settings


def _engine(index, **kw) -> Engine:
    s = index.model_copy(update={"llm_backend": "openai", "openai_model": "qwen-0.5b", **kw})
    return Engine(s)


def _assert_seed_contract(engine: Engine, a: Answer) -> None:
    assert not a.refused, a
    assert "opposition" in a.text.lower() and "[1]" in a.text
    c = a.citations[0]
    assert c.number == 1 and c.article_id == SEED.name
    assert "invite opposition representatives" in c.quote
    for c in a.citations:
        assert engine.article(c.article_id).text[c.start:c.end] == c.quote


def test_non_streaming_answer_keeps_the_citation_contract(index, llm_server) -> None:
    engine = _engine(index, openai_base_url=llm_server)
    _assert_seed_contract(engine, engine.ask(SEED_QUESTION))  # ask(): one non-streaming call


def test_streaming_answer_keeps_the_citation_contract(index, llm_server) -> None:
    engine = _engine(index, openai_base_url=llm_server)
    events = list(engine.stream(SEED_QUESTION))
    assert len([e for e in events if isinstance(e, str)]) > 3  # real deltas from the server
    _assert_seed_contract(engine, events[-1])
    refused = engine.ask("What is the capital of France?")
    assert refused.refused and refused.citations == []


def test_cli_uses_the_server(index, llm_server) -> None:
    env = {**os.environ, "QA_LLM_BACKEND": "openai", "QA_OPENAI_BASE_URL": llm_server,
           "QA_OPENAI_MODEL": "qwen-0.5b"}
    r = subprocess.run([sys.executable, "-m", "qa", "ask", SEED_QUESTION, "--json", "--index",
                        str(index.index_dir)], env=env, capture_output=True, text=True,
                       timeout=300, check=False)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["citations"][0]["article_id"] == SEED.name


def test_wrong_model_name_is_a_clear_error(index, llm_server) -> None:
    engine = _engine(index, openai_base_url=llm_server, openai_model="gpt-9")
    with pytest.raises(LLMError, match="does not serve the model 'gpt-9'; it serves qwen-0.5b"):
        engine.ask(SEED_QUESTION)


def test_server_down_is_a_clear_error(index) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    engine = _engine(index, openai_base_url=url)
    with pytest.raises(LLMError, match=f"Cannot reach the LLM server at {url}"):
        engine.ask(SEED_QUESTION)
    env = {**os.environ, "QA_LLM_BACKEND": "openai", "QA_OPENAI_BASE_URL": url}
    r = subprocess.run([sys.executable, "-m", "qa", "ask", SEED_QUESTION, "--index",
                        str(index.index_dir)], env=env, capture_output=True, text=True,
                       timeout=300, check=False)
    assert r.returncode == 1 and "Cannot reach the LLM server" in r.stderr
    assert "Traceback" not in r.stderr


def test_a_server_that_never_answers_times_out(index) -> None:
    with socket.socket() as silent:  # accepts connections, never replies
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/v1"
        engine = _engine(index, openai_base_url=url, openai_timeout=1.0)
        t0 = time.monotonic()
        with pytest.raises(LLMError, match="did not answer"):
            engine.ask(SEED_QUESTION)
        assert time.monotonic() - t0 < 30  # bounded by the timeout, not hanging


def test_a_timeout_mid_answer_is_a_clear_error(index, llm_server) -> None:
    # Generating an answer takes far longer than this timeout.
    engine = _engine(index, openai_base_url=llm_server, openai_timeout=0.05)
    with pytest.raises(LLMError, match="did not answer"):
        engine.ask(SEED_QUESTION)
    # The next question with a sane timeout works.
    _assert_seed_contract(engine, _engine(index, openai_base_url=llm_server).ask(SEED_QUESTION))
