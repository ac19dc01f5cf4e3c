"""The HTTP API end to end: `qa serve` in its own process with the real bundled LLM and the real
embedding model, spoken to by the official `openai` client, curl-style HTTP and the UI's client."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest

from qa import Settings, rebuild
from qa.api.models import AskResponse
from qa.engine import Engine

from .helpers import ROOT, SEED, SEED_QUESTION, free_port, stop

pytestmark = pytest.mark.slow
TOKEN = "e2e-user-token-0123456789"
MODELS = ROOT / "indexes" / "models"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("api-e2e")
    (root / "corpus").mkdir()
    shutil.copy(SEED, root / "corpus" / SEED.name)
    settings = Settings(corpus_dir=root / "corpus", index_dir=root / "index",
                        model_cache_dir=MODELS, rewrite_refused=False)
    rebuild(settings)
    (root / "tokens").write_text(f"{TOKEN}\n")
    port = free_port()
    env = {**os.environ, "QA_MODEL_CACHE_DIR": str(MODELS), "HF_HUB_OFFLINE": "1",
           "GRADIO_ANALYTICS_ENABLED": "False", "QA_REWRITE_REFUSED": "false"}
    log_path = root / "serve.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "qa", "serve", "--corpus", str(root / "corpus"), "--index",
             str(root / "index"), "--port", str(port), "--api-tokens", str(root / "tokens")],
            cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + 180
        while "qa is serving" not in log_path.read_text():
            if proc.poll() is not None or time.time() > deadline:
                stop(proc)
                pytest.fail(f"qa serve did not start: {log_path.read_text()[-3000:]}")
            time.sleep(0.5)
        yield {"url": f"http://127.0.0.1:{port}", "settings": settings}
        stop(proc)


def _client(server) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server['url']}/v1", api_key=TOKEN, max_retries=0,
                         timeout=600)


def test_openai_client_plain_and_streamed_match_engine_ask(server) -> None:
    client = _client(server)
    messages = [{"role": "user", "content": SEED_QUESTION}]
    plain = client.chat.completions.create(model="qa", messages=messages)
    chunks = list(client.chat.completions.create(model="qa", messages=messages, stream=True))
    print(json.dumps({"content": plain.choices[0].message.content,
                      "citations": plain.model_extra["citations"]}, indent=2,
                     ensure_ascii=False))  # the README's example output
    text = plain.choices[0].message.content
    assert not plain.model_extra["refused"] and "[1]" in text and "opposition" in text.lower()
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == text
    assert chunks[-1].model_extra["citations"] == plain.model_extra["citations"]
    cite = plain.model_extra["citations"][0]
    assert cite["article_id"] == SEED.name and "invite opposition" in cite["quote"]
    article = httpx.get(f"{server['url']}/v1/articles/{SEED.name}",
                        headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60).json()
    assert article["text"][cite["start"]:cite["end"]] == cite["quote"]
    want = AskResponse.of(Engine(server["settings"]).ask(SEED_QUESTION))
    assert text == want.answer
    assert plain.model_extra["citations"] == [c.model_dump() for c in want.citations]


def test_refusal_and_models(server) -> None:
    client = _client(server)
    got = client.chat.completions.create(model="qa", messages=[
        {"role": "user", "content": "What is the capital of France?"}])
    assert got.model_extra["refused"] and got.model_extra["citations"] == []
    assert got.choices[0].message.content.startswith("The articles don't say")
    assert [m.id for m in client.models.list()] == ["qa"]
    r = httpx.get(f"{server['url']}/v1/models", timeout=60)
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_api_key"


def test_api_clients_and_the_ui_share_the_one_model(server) -> None:
    from gradio_client import Client

    client = _client(server)
    ui = Client(server["url"], verbose=False)

    def api(_: int) -> str:
        return client.chat.completions.create(model="qa", messages=[
            {"role": "user", "content": SEED_QUESTION}]).choices[0].message.content

    with ThreadPoolExecutor(4) as pool:
        page = pool.submit(ui.predict, SEED_QUESTION, api_name="/ask")
        answers = list(pool.map(api, range(3)))
        answers.append(page.result(600)["answer"])
    assert len(set(answers)) == 1 and "[1]" in answers[0]  # one model, one job at a time
