"""The one exception hierarchy of qa; every message names the fix.

    QAError
    ├── ConfigError        settings are invalid (exit code 2)
    ├── CorpusError        the corpus folder is missing or yields nothing
    ├── IndexMissingError  there is no index yet: run `qa rebuild`
    │   └── ArticleMissingError  no article of that id in the index
    ├── IndexBusyError     another rebuild holds the writer lock
    ├── IndexError_        the index cannot be read or written (disk full, read-only, server down)
    ├── ModelError         a model file is missing, corrupt or cannot be loaded
    │   └── EmbeddingServerError  the embedding server (openai backend) is down or refuses
    ├── LLMError           the LLM backend failed or is unreachable
    ├── QuestionError      the question cannot be asked (empty, too long)
    │   └── QuestionTooLongError  longer than max_question_chars
    └── FetchError         a URL or feed cannot be fetched or holds no article
"""

from __future__ import annotations


class QAError(Exception):
    """Base class: a problem the user can fix; the message says how."""

    exit_code = 1


class ConfigError(QAError):
    exit_code = 2


class CorpusError(QAError):
    pass


class IndexMissingError(QAError):
    pass


class ArticleMissingError(IndexMissingError):
    pass


class IndexBusyError(QAError):
    pass


class IndexError_(QAError):
    pass


class ModelError(QAError):
    pass


class EmbeddingServerError(ModelError):
    pass


class LLMError(QAError):
    pass


class QuestionError(QAError):
    pass


class FetchError(QAError):
    pass


class QuestionTooLongError(QuestionError):
    pass
