"""Answer latency: `Engine.ask` vs llama-index's CitationQueryEngine over the same passages (the
engine's retriever, `Engine.as_retriever`), with the same LLM instance (the bundled GGUF through
qa's llama.cpp wrapper, chat template applied) and the same questions; plus time to the first
streamed token.

    python benchmarks/answer.py [--questions 6]

Writes benchmarks/results/answer.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
DEV = ROOT.parent / "shared" / "eval" / "dev"


def _llama_index_llm(llm: Any, max_tokens: int) -> Any:
    """qa's LLM as a llama-index LLM: every prompt goes through the model's chat template."""
    from llama_index.core.llms import CompletionResponse, CustomLLM, LLMMetadata
    from llama_index.core.llms.callbacks import llm_completion_callback

    class Wrapped(CustomLLM):
        calls: int = 0
        dry: bool = False  # answer "" at once: warms llama-index's own code paths only

        @property
        def metadata(self) -> LLMMetadata:
            return LLMMetadata(context_window=4096, num_output=max_tokens, model_name="qa-llm")

        @llm_completion_callback()
        def complete(self, prompt: str, formatted: bool = False, **kw: Any) -> CompletionResponse:
            self.calls += 1
            if self.dry:
                return CompletionResponse(text="")
            text = "".join(llm.stream([{"role": "user", "content": prompt}], max_tokens))
            return CompletionResponse(text=text)

        @llm_completion_callback()
        def stream_complete(self, prompt: str, formatted: bool = False, **kw: Any) -> Any:
            text = ""
            self.calls += 1
            if self.dry:
                yield CompletionResponse(text="", delta="")
                return
            for delta in llm.stream([{"role": "user", "content": prompt}], max_tokens):
                text += delta
                yield CompletionResponse(text=text, delta=delta)

    return Wrapped()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--questions", type=int, default=6)
    args = ap.parse_args()

    from llama_index.core.query_engine import CitationQueryEngine

    from qa.config import Settings
    from qa.engine import Engine

    questions = [json.loads(line) for line in (DEV / "questions.jsonl").read_text().splitlines()
                 if line]
    questions = [q["question"] for q in questions if q["answerable"]][: args.questions]
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        corpus.mkdir()
        (corpus / "articles.jsonl").write_text((DEV / "articles.jsonl").read_text())
        settings = Settings(corpus_dir=corpus, index_dir=Path(tmp) / "index",
                            model_cache_dir=ROOT / "indexes" / "models")
        engine = Engine(settings)
        engine.rebuild()
        # The same passages for both: chunk records hold no text of their own, so llama-index
        # reads the index through the engine's retriever (its `ChromaVectorStore` would give
        # nodes without text).
        wrapped = _llama_index_llm(engine.llm, settings.llm_max_tokens)
        citation = CitationQueryEngine(engine.as_retriever(settings.top_k), llm=wrapped)
        # Warm-up: the model's pages, our BM25 cache, and llama-index's code paths (with the
        # LLM answering at once: the model itself is already warm).
        engine.ask(questions[0])
        wrapped.dry = True
        citation.query(questions[0])
        wrapped.dry = False
        wrapped.calls = 0
        # Each engine answers the questions one after another, as a server would: llama.cpp
        # keeps the previous prompt's KV cache, so the shared prefix of consecutive prompts
        # (the system prompt) is not computed again. Interleaving the two engines would spoil
        # that for both; in this order each one's first question starts from the other's cache.
        # `Engine.ask` is `Engine.stream` read to the end (the llama.cpp backend has no separate
        # non-streaming call), so one run gives both the answer time and the time to the first
        # streamed token.
        ours, theirs, first = [], [], []
        for q in questions:
            t0 = time.perf_counter()
            citation.query(q)
            theirs.append(time.perf_counter() - t0)
        for q in questions:
            t0 = time.perf_counter()
            for event in engine.stream(q):
                if isinstance(event, str) and len(first) == len(ours):
                    first.append(time.perf_counter() - t0)
            ours.append(time.perf_counter() - t0)
            if len(first) < len(ours):  # no streamed text at all (nothing retrieved)
                first.append(ours[-1])
    result = {
        "questions": len(questions),
        "ask_median_s": round(statistics.median(ours), 3),
        "citation_query_engine_median_s": round(statistics.median(theirs), 3),
        "ratio": round(sum(ours) / sum(theirs), 3),
        "citation_engine_llm_calls_per_question": round(wrapped.calls / len(questions), 2),
        "first_token_p50_s": round(statistics.median(first), 3),
        "first_token_max_s": round(max(first), 3),
    }
    print(json.dumps(result, indent=1))
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "answer.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
