"""The onnx-int8 embedding backend: local export, quality against fp32, and an index that never
mixes vectors from two backends."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from qa import rebuild
from qa.errors import ConfigError, ModelError
from qa.index.store import Store
from qa.retrieve import Retriever
from tests.helpers import DEV, SEED_QUESTION, assert_index_matches_corpus, dev_articles, qa


@pytest.fixture(scope="session")
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One export for the whole session (it takes a few seconds)."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def int8(onnx_cache: Path):
    from qa.models.embed import Embedder

    return Embedder(backend="onnx-int8", cache_dir=onnx_cache)


@pytest.fixture(scope="session")
def fp32():
    from qa.models.embed import Embedder

    return Embedder(backend="torch")


@pytest.fixture
def int8_settings(settings, onnx_cache: Path):
    return settings.model_copy(update={"embed_backend": "onnx-int8", "model_cache_dir": onnx_cache})


def test_export_is_local_cached_and_close_to_fp32(int8, fp32, onnx_cache, monkeypatch) -> None:
    texts = [f"{a['title']}. {a['text'][:900]}" for a in dev_articles(40)]
    got = int8.encode(texts)
    want = fp32.encode(texts)
    assert got.shape == want.shape == (40, 384)
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-4)
    cos = (got * want).sum(axis=1)
    assert cos.min() > 0.97, cos.min()  # per-channel int8 keeps every vector close to fp32
    # Dynamic quantization scales activations per batch, so a text's vector moves a little with
    # its batch-mates, never far.
    assert float(int8.encode([texts[3]])[0] @ got[3]) > 0.99
    exported = list((onnx_cache / "onnx").glob("*.int8.onnx"))
    assert len(exported) == 1 and not list((onnx_cache / "onnx").glob(".export-*"))
    # Traced with eager attention: not SDPA's per-layer masking (IsNaN and Where over every
    # attention score; only the mask itself is built with Where, once), and the weight MatMuls
    # run in int8.
    from collections import Counter

    import onnx

    ops = Counter(n.op_type for n in onnx.load(str(exported[0])).graph.node)
    assert ops["IsNaN"] == 0 and ops["Where"] < ops["Softmax"] == 6, ops
    assert ops["MatMulInteger"] >= 6 * 6, ops  # q, k, v, output and two feed-forward per layer

    # A second embedder reuses the export instead of making another.
    from qa.models import onnx_embed
    from qa.models.embed import Embedder

    monkeypatch.setattr(onnx_embed, "export_int8", lambda *a: pytest.fail("re-exported"))
    again = Embedder(backend="onnx-int8", cache_dir=onnx_cache)
    assert np.allclose(again.encode([texts[0]]), int8.encode([texts[0]]), atol=1e-6)


def test_known_word_pieces_give_the_vectors_tokenizing_gives(int8) -> None:
    """The rebuild hands the encoder each chunk's word-pieces from the chunker's one pass over
    the article; the vectors are exactly those of tokenizing the texts, group by group, with
    unknown ones (None) tokenized."""
    from qa.chunking import Chunker
    from qa.corpus import make_article

    chunker = Chunker(int8.new_tokenizer(), int8.max_tokens, 200, 30)
    chunks = [c for r in dev_articles(12)
              for c in chunker.split(make_article(r["id"], r["text"], r, "a.jsonl"))]
    texts = [c.text for c in chunks]
    tokens = [c.tokens for c in chunks]
    assert sum(t is not None for t in tokens) >= 15
    tokens[1] = tokens[5] = None
    groups, known = [texts[:17], [], texts[17:]], [tokens[:17], [], tokens[17:]]
    got = list(int8.encode_groups(groups, known))
    assert [g.shape[0] for g in got] == [17, 0, len(texts) - 17]
    assert np.array_equal(np.concatenate([got[0], got[2]]),
                          np.concatenate([int8.encode(texts[:17]), int8.encode(texts[17:])]))
    wrong = [[(7592,) * 5 if t is not None else None for t in g] for g in known]
    assert not np.allclose(next(int8.encode_groups(groups, wrong)), got[0])


def test_callers_in_several_threads_share_the_encoder(int8) -> None:
    """A question embedded while a rebuild encodes gets its own vectors, unchanged."""
    from concurrent.futures import ThreadPoolExecutor

    texts = [f"{a['title']}. {a['text'][:600]}" for a in dev_articles(24)]
    groups = [texts[i::4] for i in range(4)]
    alone = [int8.encode(g) for g in groups]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(int8.encode, groups * 3))
    for k, got in enumerate(together):
        assert np.array_equal(got, alone[k % 4])


def test_export_leaves_the_working_folder_clean(tmp_path, monkeypatch) -> None:
    """onnxruntime's quantizer drops `sym_shape_infer_temp.onnx` and a 90 MB `<uuid>.data` into
    the current folder; the export runs in a scratch folder so nothing lands where qa runs."""
    from qa.models.embed import resolve_model_path
    from qa.models.onnx_embed import export_int8

    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    target = tmp_path / "models" / "m.int8.onnx"
    export_int8(resolve_model_path(None), target)
    assert target.is_file() and target.stat().st_size > 10_000_000
    assert sorted(p.name for p in work.iterdir()) == []
    assert [p.name for p in target.parent.iterdir()] == ["m.int8.onnx"]


def test_export_failure_is_a_clear_error(tmp_path) -> None:
    from qa.models.onnx_embed import export_int8

    model = tmp_path / "not-a-model"
    model.mkdir()
    with pytest.raises(ModelError, match=r"Cannot export .*QA_EMBED_BACKEND=torch"):
        export_int8(model, tmp_path / "models" / "m.int8.onnx")
    assert list((tmp_path / "models").iterdir()) == []


def test_int8_index_answers_the_seed_and_records_its_backend(int8_settings, int8) -> None:
    s = rebuild(int8_settings, embedder=int8)
    assert s.added == 1
    state = Store(int8_settings).require_state()
    assert state.embed_model == "sentence-transformers/all-MiniLM-L6-v2:onnx-int8"
    top = Retriever(int8_settings, Store(int8_settings), int8).retrieve(SEED_QUESTION, top_k=1)
    assert "invite opposition representatives" in top[0].text
    assert_index_matches_corpus(int8_settings, int8)


def test_switching_backend_demands_a_full_rebuild(int8_settings, int8, fp32,
                                                  corpus_dir) -> None:
    embedder = fp32
    rebuild(int8_settings, embedder=int8)
    torch_settings = int8_settings.model_copy(update={"embed_backend": "torch"})
    (corpus_dir / "new.txt").write_text("Amberline Shipping\n\nAmberline bought four ferries.\n")
    with pytest.raises(ConfigError, match=r"rebuild --full.*QA_EMBED_BACKEND=onnx-int8"):
        rebuild(torch_settings, embedder=embedder)
    store = Store(int8_settings)
    assert store.require_state().generation == 1  # nothing was written
    assert store.require_state().embed_model.endswith(":onnx-int8")

    # Questions still work: they are embedded with the index's backend, whatever the setting.
    r = Retriever(torch_settings, Store(torch_settings), embedder)
    top = r.retrieve(SEED_QUESTION, top_k=1)
    assert "invite opposition representatives" in top[0].text
    assert embedder.for_index(store.require_state().embed_model).backend == "onnx-int8"

    s = rebuild(torch_settings, full=True, embedder=embedder)
    assert s.chunks > 0 and s.embedded == s.chunks  # every article re-embedded
    assert Store(torch_settings).require_state().embed_model.endswith(":torch-fp32")
    assert_index_matches_corpus(torch_settings, embedder)


def test_another_model_is_refused_for_questions(embedder) -> None:
    with pytest.raises(ConfigError, match="rebuild --full"):
        embedder.for_index("/somewhere/other-model:torch-fp32")
    assert embedder.for_index(embedder.name) is embedder


def test_unsupported_pooling_is_a_clear_error(tmp_path) -> None:
    from qa.models.embed import resolve_model_path
    from qa.models.onnx_embed import pooling_mode

    bundled = resolve_model_path(None)
    assert pooling_mode(bundled) == "mean"
    model = tmp_path / "model"
    shutil.copytree(bundled, model)
    modules = json.loads((model / "modules.json").read_text())
    (model / "modules.json").write_text(json.dumps(
        [*modules, {"idx": 9, "name": "9", "path": "2_Dense",
                    "type": "sentence_transformers.models.Dense"}]))
    with pytest.raises(ModelError, match="QA_EMBED_BACKEND=torch"):
        pooling_mode(model)
    (model / "modules.json").write_text(json.dumps(modules))
    cfg = json.loads((model / "1_Pooling" / "config.json").read_text())
    cfg.update(pooling_mode_mean_tokens=False, pooling_mode_cls_token=True)
    (model / "1_Pooling" / "config.json").write_text(json.dumps(cfg))
    assert pooling_mode(model) == "cls"
    cfg.update(pooling_mode_max_tokens=True)
    (model / "1_Pooling" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelError, match="mean or CLS"):
        pooling_mode(model)


def test_cli_backend_switch_message(tmp_path, corpus_dir, onnx_cache) -> None:
    ix = str(tmp_path / "ix")
    env = {"QA_EMBED_BACKEND": "onnx-int8", "QA_MODEL_CACHE_DIR": str(onnx_cache)}
    out = qa("rebuild", "--corpus", str(corpus_dir), "--index", ix, "--json", env=env)
    assert out.returncode == 0, out.stderr
    assert out.stderr.strip() == ""  # the export prints nothing (no tracer or quantizer chatter)
    out = qa("rebuild", "--corpus", str(corpus_dir), "--index", ix,
             env={"QA_MODEL_CACHE_DIR": str(onnx_cache), "QA_EMBED_BACKEND": "torch"})
    assert out.returncode != 0
    assert "qa rebuild --full" in out.stderr and "QA_EMBED_BACKEND=onnx-int8" in out.stderr
    assert "Traceback" not in out.stderr
    out = qa("stats", "--index", ix, "--json", env={"QA_MODEL_CACHE_DIR": str(onnx_cache)})
    assert json.loads(out.stdout)["embedding_model"].endswith(":onnx-int8")


@pytest.mark.skipif(not DEV.is_dir(), reason="needs ../shared/eval/dev")
def test_retrieval_only_eval_recall_matches_fp32(onnx_cache) -> None:
    """The quality bound of the backend: dev recall@5 within 0.01 of fp32 (qa eval)."""
    from qa import Settings
    from qa.eval import run_eval

    scores = {}
    for backend in ("torch", "onnx-int8"):
        r = run_eval(DEV, Settings(embed_backend=backend, model_cache_dir=onnx_cache),
                     retrieval_only=True)
        assert r["answerable"] > 20 and len(r["questions"]) == r["n"]
        scores[backend] = r["recall_at_k"]
    assert abs(scores["onnx-int8"] - scores["torch"]) <= 0.01, scores
    assert scores["torch"] >= 0.9


def test_env_selects_backend(monkeypatch) -> None:
    from qa import Settings
    from qa.models.embed import Embedder

    assert Embedder.from_settings(Settings()).name.endswith(":onnx-int8")  # the default
    monkeypatch.setenv("QA_EMBED_BACKEND", "torch")
    assert Embedder.from_settings(Settings()).name.endswith(":torch-fp32")
    monkeypatch.setenv("QA_EMBED_BACKEND", "fp16")
    from qa.config import load_settings

    with pytest.raises(ConfigError, match="embed_backend"):
        load_settings()
    assert os.environ["QA_EMBED_BACKEND"] == "fp16"


def test_batch_size_is_the_backends_own_unless_set(monkeypatch, int8, onnx_cache) -> None:
    from qa import Settings
    from qa.models.embed import Embedder

    assert Embedder.from_settings(Settings()).batch_size == 8  # int8: fastest at 4-16 here
    torch_embedder = Embedder(backend="torch", cache_dir=onnx_cache)
    assert torch_embedder.batch_size == 32
    # The sibling that answers questions on an index of the other backend uses its own size...
    assert torch_embedder.for_index(int8.name).batch_size == 8
    # ...unless the settings chose one, which then holds for both.
    monkeypatch.setenv("QA_EMBED_BATCH_SIZE", "16")
    chosen = Embedder.from_settings(Settings(embed_backend="torch", model_cache_dir=onnx_cache))
    assert chosen.batch_size == 16 and chosen.for_index(int8.name).batch_size == 16

    # Batches of 8 and of 32 give the same vectors, up to int8's per-batch activation scales.
    texts = [f"{a['title']}. {a['text'][:900]}" for a in dev_articles(40)]
    wide = Embedder(backend="onnx-int8", batch_size=32, cache_dir=onnx_cache)
    cos = (int8.encode(texts) * wide.encode(texts)).sum(axis=1)
    assert cos.min() > 0.99, cos.min()


def test_unset_backend_keeps_the_index_backend(tmp_path, corpus_dir, onnx_cache) -> None:
    """An index built before the default became onnx-int8 keeps working: a plain `qa rebuild`
    (no backend chosen) updates it with its own backend; `--full` moves it to the default."""
    ix = str(tmp_path / "ix")
    env = {"QA_MODEL_CACHE_DIR": str(onnx_cache)}
    out = qa("rebuild", "--corpus", str(corpus_dir), "--index", ix, "--json",
             env={**env, "QA_EMBED_BACKEND": "torch"})
    assert out.returncode == 0, out.stderr
    (corpus_dir / "new.txt").write_text("Amberline Shipping\n\nAmberline bought four ferries.\n")
    out = qa("rebuild", "--corpus", str(corpus_dir), "--index", ix, "--json", env=env)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["added"] == 1
    stats = json.loads(qa("stats", "--index", ix, "--json", env=env).stdout)
    assert stats["embedding_model"].endswith(":torch-fp32")
    out = qa("rebuild", "--corpus", str(corpus_dir), "--index", ix, "--full", "--json", env=env)
    assert out.returncode == 0, out.stderr
    stats = json.loads(qa("stats", "--index", ix, "--json", env=env).stdout)
    assert stats["embedding_model"].endswith(":onnx-int8")


def test_fast_tokenizer_matches_transformers() -> None:
    """qa reads tokenizer.json with `tokenizers` directly; ids, offsets and padded batches are
    those of transformers' tokenizer, so chunk boundaries and vectors do not change."""
    from transformers import AutoTokenizer

    from qa.models.embed import resolve_model_path
    from qa.models.tokenizer import FastTokenizer

    model = resolve_model_path(None)
    hf, ft = AutoTokenizer.from_pretrained(str(model)), FastTokenizer(model)
    texts = [a["text"] for a in dev_articles(40)] + ["Ünïcödé “quotes” 🙂 tabs\tand  spaces", ""]
    for t in texts:
        a = hf(t, add_special_tokens=False, return_offsets_mapping=True)
        b = ft(t, add_special_tokens=False, return_offsets_mapping=True)
        assert a["input_ids"] == b["input_ids"]
        assert [tuple(o) for o in a["offset_mapping"]] == [tuple(o) for o in b["offset_mapping"]]
        assert hf.encode(t) == ft.encode(t)
    want = hf(texts[:12], padding=True, truncation=True, max_length=256, return_tensors="np")
    got = ft(texts[:12], padding=True, truncation=True, max_length=256, return_tensors="np")
    for key in ("input_ids", "attention_mask", "token_type_ids"):
        assert (want[key] == got[key]).all(), key


def test_questions_on_an_int8_index_load_neither_torch_nor_transformers(int8_settings,
                                                                        int8) -> None:
    """Serving an onnx-int8 index needs onnxruntime and tokenizers only: ~2 s less start-up and
    ~300 MB less memory than importing torch."""
    import subprocess
    import sys

    rebuild(int8_settings, embedder=int8)
    code = (
        "import sys\n"
        "from qa import Settings\n"
        "from qa.models.embed import Embedder\n"
        "from qa.retrieve import Retriever\n"
        "from qa.index.store import Store\n"
        f"s = Settings(corpus_dir={str(int8_settings.corpus_dir)!r}, "
        f"index_dir={str(int8_settings.index_dir)!r}, "
        f"model_cache_dir={str(int8_settings.model_cache_dir)!r})\n"
        f"top = Retriever(s, Store(s), Embedder.from_settings(s)).retrieve({SEED_QUESTION!r})\n"
        "print(top[0].text)\n"
        "print(sorted(m for m in ('torch', 'transformers', 'sentence_transformers') "
        "if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300, check=False)
    assert out.returncode == 0, out.stderr
    assert "invite opposition representatives" in out.stdout
    assert out.stdout.strip().splitlines()[-1] == "[]"
