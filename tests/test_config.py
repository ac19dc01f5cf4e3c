"""Settings: one constructor path, invalid values raise ConfigError naming the fix."""

from __future__ import annotations

import pytest

from qa import ConfigError, Settings, load_settings


@pytest.mark.parametrize("values", [
    {"top_k": 0},
    {"chunk_size": 100, "chunk_overlap": 100},
    {"chroma_url": "localhost:8000"},
    {"llm_backend": "openai"},
    {"no_such_setting": 1},
])
def test_invalid_settings_raise_config_error_however_built(values) -> None:
    with pytest.raises(ConfigError, match="Fix qa.toml, the QA_\\* environment variables"):
        Settings(**values)
    with pytest.raises(ConfigError):
        load_settings(**values)


def test_environment_and_toml_feed_the_same_path(monkeypatch, tmp_path) -> None:
    (tmp_path / "qa.toml").write_text("top_k = 7\n")
    assert Settings().top_k == 7
    monkeypatch.setenv("QA_TOP_K", "3")
    assert Settings().top_k == 3
    assert load_settings(top_k=None).top_k == 3  # a flag not given does not override
    assert load_settings(top_k=9).top_k == 9
    monkeypatch.setenv("QA_TOP_K", "lots")
    with pytest.raises(ConfigError, match="top_k"):
        Settings()
