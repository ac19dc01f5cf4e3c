"""Reading an index never writes: no folder for a wrong --index, a read-only index explained,
a corpus path that is a file named as such."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from qa import Settings, rebuild
from qa.engine import Engine
from qa.errors import CorpusError, IndexMissingError
from qa.index import stats
from qa.models import ScriptedLLM

from .helpers import SEED_QUESTION


def test_reading_a_missing_index_creates_nothing(tmp_path: Path, corpus_dir: Path,
                                                 embedder) -> None:
    missing = tmp_path / "typo" / "index"
    settings = Settings(corpus_dir=corpus_dir, index_dir=missing)
    with pytest.raises(IndexMissingError, match="qa rebuild"):
        stats(settings)
    engine = Engine(settings, llm=ScriptedLLM([]), embedder=embedder)
    with pytest.raises(IndexMissingError, match="qa rebuild"):
        engine.ask(SEED_QUESTION)
    assert engine.describe()["articles"] is None
    assert not (tmp_path / "typo").exists()


def test_a_corpus_path_that_is_a_file_is_named_so(tmp_path: Path) -> None:
    article = tmp_path / "article.txt"
    article.write_text("Title\n\nText.\n")
    with pytest.raises(CorpusError, match="is a file, not a folder"):
        rebuild(Settings(corpus_dir=article, index_dir=tmp_path / "ix"))
    assert not (tmp_path / "ix").exists()


def _without_write_permission() -> list[str]:
    """The command prefix that runs a process subject to file permissions (root otherwise
    writes anywhere): setpriv dropping the capabilities that bypass them."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if not setpriv:
        pytest.skip("running as root without setpriv: cannot make a folder read-only")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search,-fowner", "--"]


def test_a_read_only_index_says_what_it_needs(settings, embedder) -> None:
    rebuild(settings, embedder=embedder)
    for path in [settings.index_dir, *settings.index_dir.rglob("*")]:
        path.chmod(path.stat().st_mode & ~0o222)
    try:
        out = subprocess.run(
            [*_without_write_permission(), sys.executable, "-m", "qa", "stats", "--index",
             str(settings.index_dir)], capture_output=True, text=True, timeout=300,
            check=False, env={**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)})
    finally:
        for path in [settings.index_dir, *settings.index_dir.rglob("*")]:
            path.chmod(path.stat().st_mode | 0o200)
    assert out.returncode == 1, out.stdout
    assert "is read-only" in out.stderr and "chmod -R u+w" in out.stderr, out.stderr
    assert "Traceback" not in out.stderr
