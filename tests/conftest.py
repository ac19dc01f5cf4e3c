"""Shared fixtures: isolated settings in a temp dir, a tiny corpus, one real embedding model."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["ANONYMIZED_TELEMETRY"] = "False"
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

from .helpers import DEV, SEED  # noqa: E402  (after the environment above is set)


def pytest_configure(config: pytest.Config) -> None:
    if not (DEV / "articles.jsonl").is_file():
        raise pytest.UsageError(
            f"The tests read the evaluation data in {DEV}, which is missing. Keep the checkout "
            "beside the workspace's shared/ folder, or set QA_SHARED_DIR to that folder."
        )


@pytest.fixture(autouse=True)
def _isolate(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No QA_* variable or qa.toml of the developer leaks into a test."""
    for key in list(os.environ):
        if key.startswith("QA_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def embedder():
    from qa.models.embed import Embedder

    return Embedder()


@pytest.fixture
def corpus_dir(tmp_path: Path) -> Path:
    d = tmp_path / "corpus"
    d.mkdir()
    shutil.copy(SEED, d / SEED.name)
    return d


@pytest.fixture
def settings(tmp_path: Path, corpus_dir: Path):
    from qa import Settings

    # Scripted models answer only the calls a test scripts: the check of meaning (on by
    # default with a verdict model of its own) is tested in test_engine and test_e2e.
    return Settings(corpus_dir=corpus_dir, index_dir=tmp_path / "index", meaning_threshold=0.0)


CHROMIUM = "/usr/bin/chromium"  # Debian's (`make browser`); Playwright never downloads one


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian chromium is missing: run `make browser` (apt-get install chromium).")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield b
        b.close()
