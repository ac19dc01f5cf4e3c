"""The `openai` embedding backend: any server with the OpenAI `/v1/embeddings` API (infinity-emb,
text-embeddings-inference, vLLM, Ollama), reached with `httpx`.

Texts go in batches, several requests in flight at once (a small thread pool: the server, or
the servers behind a balancer, work on them in parallel); a request answered with 429 or 5xx,
or that could not reach the server, is retried with exponential backoff. `_ERRORS` is the one
table from `httpx`'s exception types to the message that names the server and the fix.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import httpx

from qa.errors import EmbeddingServerError

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
BACKOFF_S = 0.5  # first wait before a retry; doubled each time, at most MAX_BACKOFF_S
MAX_BACKOFF_S = 8.0

# First match wins. A timeout is a TransportError too, so it comes first.
_ERRORS: tuple[tuple[tuple[type[BaseException], ...], str], ...] = (
    ((httpx.TimeoutException,),
     "The embedding server at {url} did not answer within {timeout:g} s — is it overloaded? "
     "Raise QA_EMBED_TIMEOUT or lower QA_EMBED_CONCURRENCY."),
    ((httpx.TransportError,),
     "Cannot reach the embedding server at {url} ({exc}) — start it or fix "
     "QA_EMBED_BASE_URL."),
)


def explain(exc: BaseException, url: str, timeout: float) -> EmbeddingServerError:
    """The EmbeddingServerError for an `httpx` exception raised while talking to `url`."""
    for kinds, message in _ERRORS:
        if isinstance(exc, kinds):
            return EmbeddingServerError(message.format(url=url, timeout=timeout, exc=exc))
    return EmbeddingServerError(f"The embedding server at {url} failed: {exc!r}")


class OpenAIEmbeddings:
    """Encodes texts to unit vectors on an OpenAI-compatible embedding server.

    transport: an `httpx` transport (tests pass `httpx.MockTransport`); sleep: how to wait
    between retries.
    """

    def __init__(self, base_url: str, model: str, *, api_key: str | None = None,
                 batch_size: int = 32, concurrency: int = 2, timeout: float = 60.0,
                 retries: int = 5, backoff: float = BACKOFF_S,
                 transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.base_url = base_url.rstrip("/")
        self.url = f"{self.base_url}/embeddings"
        self.model = model
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self._sleep = sleep
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            timeout=timeout, headers=headers, transport=transport,
            limits=httpx.Limits(max_connections=concurrency,
                                max_keepalive_connections=concurrency),
        )
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per text, in the order of `texts`."""
        import numpy as np

        batches = [texts[i:i + self.batch_size] for i in range(0, len(texts), self.batch_size)]
        if not batches:
            return np.zeros((0, 0), dtype=np.float32)
        if len(batches) == 1 or self.concurrency == 1:
            parts = [self._request(b) for b in batches]
        else:
            parts = list(self._executor().map(self._request, batches))
        vectors = np.vstack(parts).astype(np.float32, copy=False)
        # Servers differ on normalizing (infinity does for models that say so, others leave
        # it to the client); cosine similarity here assumes unit vectors.
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.clip(norms, 1e-12, None)

    def _executor(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=self.concurrency,
                                                thread_name_prefix="qa-embed")
            return self._pool

    def _request(self, batch: list[str]) -> Any:
        """One batch's vectors; retries 429/5xx and unreachable servers with backoff."""
        import numpy as np

        body = {"model": self.model, "input": batch, "encoding_format": "float"}
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                resp = self._client.post(self.url, json=body)
            except httpx.TransportError as exc:
                if last:
                    raise explain(exc, self.base_url, self.timeout) from exc
                self._wait(attempt, None, f"{type(exc).__name__}")
                continue
            if resp.status_code in RETRY_STATUS and not last:
                self._wait(attempt, resp.headers.get("retry-after"), f"HTTP {resp.status_code}")
                continue
            if resp.status_code != 200:
                raise EmbeddingServerError(
                    f"The embedding server at {self.base_url} answered HTTP {resp.status_code} "
                    f"for model {self.model!r}: {resp.text[:300]} — check QA_EMBED_MODEL and "
                    "the server's log.")
            return _vectors(resp, len(batch), self.base_url, np)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _wait(self, attempt: int, retry_after: str | None, why: str) -> None:
        delay = min(MAX_BACKOFF_S, self.backoff * 2 ** attempt)
        if retry_after and retry_after.replace(".", "", 1).isdigit():
            delay = min(MAX_BACKOFF_S, float(retry_after))
        log.info("embedding server %s: %s; retry %d in %.1f s", self.base_url, why,
                 attempt + 1, delay)
        self._sleep(delay)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        self._client.close()


def _vectors(resp: httpx.Response, n: int, url: str, np: Any) -> Any:
    """The response's embeddings as an (n, dim) array, in input order."""
    try:
        data = sorted(resp.json()["data"], key=lambda d: d["index"])
        rows = np.asarray([d["embedding"] for d in data], dtype=np.float32)
    except (ValueError, KeyError, TypeError) as exc:
        raise EmbeddingServerError(
            f"The embedding server at {url} did not answer with the OpenAI embeddings format "
            f"({exc!r}) — is QA_EMBED_BASE_URL the API's base (ending in /v1 for most "
            "servers)?") from exc
    if rows.ndim != 2 or len(rows) != n:
        raise EmbeddingServerError(
            f"The embedding server at {url} returned {len(rows)} vectors for {n} texts.")
    return rows
