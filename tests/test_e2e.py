"""End to end with the real bundled LLM (Qwen2.5-Coder-0.5B GGUF), real Chroma, real embeddings."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from qa import Settings, rebuild
from qa.engine import Engine

from .helpers import DEV, ROOT, SEED_QUESTION

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    """The shipped corpus, indexed; the model cache shared with the developer's indexes/. A
    refused answer is not written again (test_news_e2e tests the second writer): the refusals
    here are the answer model's."""
    root = tmp_path_factory.mktemp("e2e")
    shutil.copytree(ROOT / "corpus", root / "corpus")
    settings = Settings(corpus_dir=root / "corpus", index_dir=root / "index",
                        model_cache_dir=ROOT / "indexes" / "models", rewrite_refused=False)
    rebuild(settings)
    return Engine(settings)


def test_seed_question_is_answered_with_the_seed_passage(engine) -> None:
    a = engine.ask(SEED_QUESTION)
    assert not a.refused, a
    assert "opposition" in a.text.lower() and "[1]" in a.text
    c = a.citations[0]
    assert c.number == 1 and c.article_id == "russia-pushes-for-peace-talks.txt"
    assert "invite opposition representatives" in c.quote
    for c in a.citations:
        assert engine.article(c.article_id).text[c.start:c.end] == c.quote


def test_general_knowledge_is_refused(engine) -> None:
    a = engine.ask("What is the capital of France?")
    assert a.refused and a.text.startswith("The articles don't say") and a.citations == []
    assert a.passages  # the closest passages are still offered


def test_stream_delivers_tokens_before_the_answer(engine) -> None:
    events = list(engine.stream(SEED_QUESTION))
    assert len([e for e in events if isinstance(e, str)]) > 3
    assert not events[-1].refused


def test_follow_up_is_condensed(engine) -> None:
    history = [("Who will Sergei Lavrov meet in Moscow?",
                "Lavrov will meet U.N. Syria envoy Staffan de Mistura [1].")]
    standalone = engine.condense("When will he meet him?", history)
    assert "lavrov" in standalone.lower() or "mistura" in standalone.lower()
    a = engine.chat("When will he meet him?", history=history)
    for c in a.citations:
        assert engine.article(c.article_id).text[c.start:c.end] == c.quote


def test_qa_ask_json(engine) -> None:
    s = engine.settings
    env = {**os.environ, "QA_MODEL_CACHE_DIR": str(s.model_cache_dir)}
    out = subprocess.run(
        [sys.executable, "-m", "qa", "ask", SEED_QUESTION, "--json", "--corpus",
         str(s.corpus_dir), "--index", str(s.index_dir)],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert set(data) == {"answer", "refused", "citations", "seconds"}
    assert not data["refused"]
    assert "invite opposition representatives" in data["citations"][0]["quote"]
    human = subprocess.run(
        [sys.executable, "-m", "qa", "ask", "What is the capital of France?", "--corpus",
         str(s.corpus_dir), "--index", str(s.index_dir)],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )
    assert human.returncode == 0 and "The articles don't say" in human.stdout
    assert "Closest passages" in human.stdout


# Floors set from measured runs (docs/benchmarks.md, "Answer quality"); a drop below them fails CI.
FLOORS = {"recall_at_k": 0.95, "answer_accuracy": 0.4, "citation_precision": 0.9,
          "refusal_rate_unanswerable": 0.9}
CEILINGS = {"false_refusal_rate": 0.3}


def test_eval_regression_on_a_dev_slice(tmp_path) -> None:
    """The seed, SQuAD and Quoref questions and ten unanswerable ones, over the whole dev set."""
    from qa.eval import load_questions, run_eval

    qs = load_questions(DEV)
    keep = [q for q in qs if q["source"] in ("seed", "SQuAD v1.1", "Quoref")]
    keep += [q for q in qs if not q["answerable"]][:10]
    (tmp_path / "slice").mkdir()
    shutil.copy(DEV / "articles.jsonl", tmp_path / "slice" / "articles.jsonl")
    (tmp_path / "slice" / "questions.jsonl").write_text(
        "".join(json.dumps(q) + "\n" for q in keep))
    # The second writer leaves the dev figures unchanged (docs/benchmarks.md) and would double
    # the time of every refused question.
    settings = Settings(model_cache_dir=ROOT / "indexes" / "models", rewrite_refused=False)
    report = run_eval(tmp_path / "slice", settings)
    assert report["n"] == 20
    summary = {k: v for k, v in report.items() if k != "questions"}
    for key, floor in FLOORS.items():
        assert report[key] >= floor, (key, summary)
    for key, ceiling in CEILINGS.items():
        assert report[key] <= ceiling, (key, summary)


def test_amx_kernels_are_turned_off_at_load(monkeypatch) -> None:
    """A llama.cpp built with its AMX kernels (they SIGILL in 0.3.36) loads the model without
    llama.cpp's extra buffer types and still answers; other builds keep them (weight repacking)."""
    import llama_cpp

    import qa.models.llama_cpp as llm_module
    from qa.models import model_path
    from qa.models.llama_cpp import LlamaCppLLM, has_amx_kernels

    path = model_path(Settings(model_cache_dir=ROOT / "indexes" / "models"))
    built_with_amx = b"AMX_INT8 = 1" in llama_cpp.llama_print_system_info()
    assert has_amx_kernels() == built_with_amx
    plain = LlamaCppLLM(path, n_ctx=512, n_threads=2)
    assert plain.amx_disabled == built_with_amx
    assert plain.llama.model_params.use_extra_bufts == (not built_with_amx)
    del plain

    monkeypatch.setattr(llm_module, "has_amx_kernels", lambda: True)
    guarded = LlamaCppLLM(path, n_ctx=512, n_threads=2)
    assert guarded.amx_disabled and guarded.llama.model_params.use_extra_bufts is False
    reply = "".join(guarded.stream([{"role": "user", "content": "Say the word yes."}], 8))
    assert reply.strip()
    # The wrapper is undone: the next model gets llama.cpp's default parameters again.
    assert llama_cpp.llama_model_default_params().use_extra_bufts is True
