"""qa: question answering over news articles, with verified citations.

    from qa import Engine, Settings, rebuild
    settings = Settings(corpus_dir="corpus", index_dir="indexes")
    summary = rebuild(settings)
    answer = Engine(settings).ask("Who did Russia invite to Moscow?")
"""

from __future__ import annotations

from typing import Any

from qa.config import Settings, load_settings
from qa.errors import (
    ArticleMissingError,
    ConfigError,
    CorpusError,
    IndexBusyError,
    IndexError_,
    IndexMissingError,
    LLMError,
    ModelError,
    QAError,
    QuestionError,
    QuestionTooLongError,
)
from qa.records import Answer, Article, Chunk, Citation, Passage, RebuildSummary, Skipped

__all__ = [
    "Answer",
    "Article",
    "ArticleMissingError",
    "Chunk",
    "Citation",
    "ConfigError",
    "CorpusError",
    "Engine",
    "IndexBusyError",
    "IndexError_",
    "IndexMissingError",
    "LLMError",
    "ModelError",
    "Passage",
    "QAError",
    "QuestionError",
    "QuestionTooLongError",
    "RebuildSummary",
    "Settings",
    "Skipped",
    "load_settings",
    "read_corpus",
    "rebuild",
    "stats",
]


def __getattr__(name: str) -> Any:
    # Engine pulls in the retrieval stack; import it only when asked for.
    if name == "Engine":
        from qa.engine import Engine

        return Engine
    raise AttributeError(f"module 'qa' has no attribute {name!r}")


def rebuild(settings: Settings | None = None, full: bool = False, **kwargs: Any) -> RebuildSummary:
    """Bring the index up to date with the corpus (see qa.index.rebuild)."""
    from qa.index import rebuild as _rebuild

    return _rebuild(settings or Settings(), full=full, **kwargs)


def stats(settings: Settings | None = None) -> dict[str, Any]:
    from qa.index import stats as _stats

    return _stats(settings or Settings())


def read_corpus(*args: Any, **kwargs: Any) -> Any:
    from qa.corpus import read_corpus as _read

    return _read(*args, **kwargs)
