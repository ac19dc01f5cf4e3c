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
    EmbeddingServerError,
    FetchError,
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
    "EmbeddingServerError",
    "Engine",
    "FetchError",
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
    "add_urls",
    "load_settings",
    "pull_feeds",
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


def add_urls(urls: list[str], settings: Settings | None = None, rebuild: bool = True) -> Any:
    """Fetch article pages into corpus/web/<site>/ and update the index (see qa.news)."""
    from qa.news import add_urls as _add

    return _add(settings or Settings(), urls, rebuild=rebuild)


def pull_feeds(settings: Settings | None = None, rebuild: bool = True) -> Any:
    """Store the new entries of every listed feed, then update the index (see qa.feeds)."""
    from qa.feeds import pull

    return pull(settings or Settings(), rebuild=rebuild)
