"""SIGKILL a real `qa rebuild` subprocess at every stage: the previous index always answers."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from qa import rebuild

from .helpers import SEED, SEED_QUESTION, assert_index_matches_corpus, dev_articles

pytestmark = pytest.mark.slow
HERE = Path(__file__).parent


def _env() -> dict[str, str]:
    # Small batches, so that a rebuild has several embed/write rounds to be killed in.
    return {**os.environ, "QA_FLUSH_CHUNKS": "16", "PYTHONUNBUFFERED": "1"}


def _probe(settings) -> dict:
    out = subprocess.run(
        [sys.executable, str(HERE / "probe.py"), str(settings.corpus_dir),
         str(settings.index_dir), SEED_QUESTION],
        capture_output=True, text=True, env=_env(), timeout=300, check=True,
    )
    return json.loads(out.stdout)


def _rebuild_cmd(settings) -> list[str]:
    return [sys.executable, "-m", "qa", "-v", "rebuild", "--corpus", str(settings.corpus_dir),
            "--index", str(settings.index_dir)]


def _kill_at(settings, marker: str | None, delay: float = 0.0) -> bool:
    """Start a rebuild; SIGKILL it when stderr shows `marker` (or after `delay` s).
    Returns True when the kill landed before the rebuild finished."""
    proc = subprocess.Popen(_rebuild_cmd(settings), stderr=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, env=_env())
    assert proc.stderr is not None
    if marker is None:
        time.sleep(delay)
    else:
        for line in proc.stderr:
            if marker in line:
                break
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    return proc.returncode == -signal.SIGKILL


def _corpus_v1(corpus_dir: Path, rows: list[dict]) -> None:
    (corpus_dir / "dev.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:30]))


def _corpus_v2(corpus_dir: Path, rows: list[dict]) -> None:
    # Edit one article, drop two, add ten: every kind of change at once.
    edited = [{**rows[0], "text": rows[0]["text"] + "\n\nUpdated later."}] + rows[3:40]
    (corpus_dir / "dev.jsonl").write_text("".join(json.dumps(r) + "\n" for r in edited))
    (corpus_dir / "extra.md").write_text("# Extra\n\nA new article about harbour cranes.\n")


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> tuple[Path, dict]:
    """An index of corpus v1 built by a real `qa rebuild` process, and what a reader sees in it."""
    from qa import Settings

    root = tmp_path_factory.mktemp("base")
    corpus = root / "corpus"
    corpus.mkdir()
    shutil.copy(SEED, corpus / SEED.name)
    _corpus_v1(corpus, dev_articles())
    settings = Settings(corpus_dir=corpus, index_dir=root / "index")
    subprocess.run(_rebuild_cmd(settings), capture_output=True, env=_env(), timeout=600,
                   check=True)
    before = _probe(settings)
    assert "invite opposition representatives" in before["text"]
    return root, before


def _copy_base(base: tuple[Path, dict], tmp_path: Path):
    from qa import Settings

    root, before = base
    shutil.copytree(root, tmp_path / "w")
    settings = Settings(corpus_dir=tmp_path / "w" / "corpus", index_dir=tmp_path / "w" / "index")
    _corpus_v2(settings.corpus_dir, dev_articles())
    return settings, before


def _same_citation(after: dict, before: dict) -> None:
    keys = ("article_id", "start", "end", "text")
    assert {k: after[k] for k in keys} == {k: before[k] for k in keys}


@pytest.mark.parametrize("marker", [
    "stage=read",          # reading the corpus
    "stage=embed",         # mid-embedding
    "stage=write-chunks",  # mid-upsert
    "stage=commit",        # while switching to the new generation
    "stage=gc",            # during deletion of the old records
])
def test_kill_at_stage(base, tmp_path, embedder, marker) -> None:
    settings, before = _copy_base(base, tmp_path)
    assert _kill_at(settings, marker), "the rebuild finished before the kill"
    after = _probe(settings)
    _same_citation(after, before)  # whichever generation is committed
    if marker in ("stage=read", "stage=embed", "stage=write-chunks"):
        assert after["generation"] == before["generation"]
    else:
        assert after["generation"] in (before["generation"], before["generation"] + 1)
    # The next rebuild ends with exactly the chunks of the corpus.
    rebuild(settings, embedder=embedder)
    assert_index_matches_corpus(settings, embedder)


def test_kill_at_random_moments(base, tmp_path, embedder) -> None:
    settings, before = _copy_base(base, tmp_path)
    rng = random.Random(1234)
    for _ in range(2):
        _kill_at(settings, None, delay=rng.uniform(2.0, 9.0))
        _same_citation(_probe(settings), before)
    rebuild(settings, embedder=embedder)
    assert_index_matches_corpus(settings, embedder)
