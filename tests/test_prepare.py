"""The bundled model's one-time assembly is announced with its progress, not silent."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pytest

from qa import Settings
from qa.models import bundled


@dataclass(frozen=True)
class _Spec(bundled.BundledModel):
    """A bundled model whose slices are small files of a test."""

    folder: str = ""

    def slices(self) -> list[Path]:
        return sorted(Path(self.folder).glob("part*.bin"))


@pytest.fixture
def tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> bundled.BundledModel:
    parts = tmp_path / "parts"
    parts.mkdir()
    data = [bytes([n]) * (5 << 20) for n in range(3)]  # three 5 MB slices
    for n, chunk in enumerate(data):
        (parts / f"part{n}.bin").write_bytes(chunk)
    spec = _Spec(filename="tiny.gguf", dist_prefix="", version="", parts=3,
                 size=sum(map(len, data)), sha256=hashlib.sha256(b"".join(data)).hexdigest(),
                 extra="", folder=str(parts))
    monkeypatch.setitem(bundled.BUNDLED, "qwen-0.5b", spec)
    return spec


def test_assembly_reports_progress_to_the_observer(tiny, tmp_path: Path) -> None:
    settings = Settings(index_dir=tmp_path / "index")
    [pending] = bundled.to_prepare(settings)
    assert pending.name == "qwen-0.5b" and pending.seconds == 10
    seen: list[tuple[str, int, int]] = []
    bundled.observe_assembly(lambda *a: seen.append(a))
    try:
        path = bundled.model_path(settings)
    finally:
        bundled.observe_assembly(None)
    assert path.stat().st_size == tiny.size
    done = [d for _, d, _ in seen]
    assert done == sorted(done) and done[-1] == tiny.size and len(done) >= 3
    assert {(n, t) for n, _, t in seen} == {("qwen-0.5b", tiny.size)}
    assert bundled.to_prepare(settings) == []  # assembled: nothing left to prepare
    assert bundled.to_prepare(settings.model_copy(update={"llm_backend": "openai"})) == []


def test_cli_announces_the_assembly(tiny, tmp_path: Path, capsys) -> None:
    from qa.cli import _show_model_assembly

    _show_model_assembly()
    try:
        bundled.model_path(Settings(index_dir=tmp_path / "index"))
    finally:
        bundled.observe_assembly(None)
    err = capsys.readouterr().err
    assert err.count("Preparing the language model qwen-0.5b (one time, ~10 s)") == 1, err


def test_ui_status_says_the_model_is_being_prepared(tiny, tmp_path: Path) -> None:
    from qa.engine import Engine
    from qa.ui.handlers import Handlers

    settings = Settings(index_dir=tmp_path / "index", corpus_dir=tmp_path)
    handlers = Handlers(Engine(settings), settings)
    assert "preparing the language model qwen-0.5b (one time, ~10 s)" in handlers.status()
    assert handlers.status_tick()[1].active is True  # read again until ready
    bundled.model_path(settings)
    assert "preparing" not in handlers.status()
    assert handlers.status_tick()[1].active is False
