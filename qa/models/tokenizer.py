"""The embedding model's word-piece tokenizer, straight from its `tokenizer.json`.

`tokenizers` (Rust) is what transformers' fast tokenizers run on; loading it directly keeps
transformers, and with it torch (~2 s of imports, ~300 MB), out of processes that only chunk
text and run the ONNX model: `qa ask`, `qa serve`, an onnx-int8 rebuild. It offers the small
part of the transformers tokenizer API that qa uses, with the same ids and offsets.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class FastTokenizer:
    """Not shared between threads: each thread that tokenizes makes its own instance."""

    def __init__(self, model_dir: Path) -> None:
        from tokenizers import Tokenizer

        self._path = model_dir / "tokenizer.json"
        self._tok = Tokenizer.from_file(str(self._path))
        self._tok.no_truncation()
        self._tok.no_padding()
        self._batch: Any = None
        cfg_file = model_dir / "tokenizer_config.json"
        cfg = json.loads(cfg_file.read_text()) if cfg_file.is_file() else {}
        self.model_max_length = int(cfg.get("model_max_length") or 512)
        self.pad_token = cfg.get("pad_token") or "[PAD]"

    @staticmethod
    def available(model_dir: Path) -> bool:
        return (model_dir / "tokenizer.json").is_file()

    @property
    def word_aligned(self) -> bool:
        """Each word is tokenized on its own (BERT normalizer and pre-tokenizer, WordPiece), so
        a span of text that starts and ends between words has the tokens its words have in
        the whole text: tokenizing the whole once answers for every such span."""
        from tokenizers import models, normalizers, pre_tokenizers

        tok = self._tok
        return (isinstance(tok.normalizer, normalizers.BertNormalizer)
                and isinstance(tok.pre_tokenizer, pre_tokenizers.BertPreTokenizer)
                and isinstance(tok.model, models.WordPiece))

    def words(self, text: str) -> tuple[list[int], list[tuple[int, int]], list[tuple[int, int]]]:
        """(token ids, each token's character span, each word's character span), special
        tokens left out.

        A word is what the pre-tokenizer splits off (a run of letters and digits, or one
        punctuation mark); its span runs from its first token's start to its last one's end.
        """
        enc = self._tok.encode(text, add_special_tokens=False)
        offsets = enc.offsets
        words: list[tuple[int, int]] = []
        last = None
        for (s, e), w in zip(offsets, enc.word_ids, strict=True):
            if w == last and words:
                words[-1] = (words[-1][0], e)
            else:
                words.append((s, e))
                last = w
        return enc.ids, offsets, words

    def pad_id(self) -> int:
        """The id padding uses (as `__call__` pads)."""
        pad = self._tok.token_to_id(self.pad_token)
        return 0 if pad is None else pad

    def special_ids(self) -> tuple[list[int], list[int]]:
        """The ids the tokenizer puts before and after a text's own ([CLS] and [SEP])."""
        probe = "a"
        own = self._tok.encode(probe, add_special_tokens=False).ids
        full = self._tok.encode(probe, add_special_tokens=True).ids
        for k in range(len(full) - len(own) + 1):
            if full[k:k + len(own)] == own:
                return full[:k], full[k + len(own):]
        raise ValueError(f"{self._path}: the special tokens do not surround the text")

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        return self._tok.encode(text, add_special_tokens=add_special_tokens).ids

    def __call__(self, text: Any, add_special_tokens: bool = True,
                 return_offsets_mapping: bool = False, padding: bool = False,
                 truncation: bool = False, max_length: int | None = None,
                 return_tensors: str | None = None) -> dict[str, Any]:
        if isinstance(text, str):
            enc = self._tok.encode(text, add_special_tokens=add_special_tokens)
            out: dict[str, Any] = {"input_ids": enc.ids, "attention_mask": enc.attention_mask}
            if return_offsets_mapping:
                out["offset_mapping"] = enc.offsets
            return out
        return self._encode_batch(list(text), max_length if truncation else None, padding)

    def _encode_batch(self, texts: list[str], max_length: int | None, padding: bool) -> dict:
        """Padded numpy arrays for a model: input_ids, attention_mask, token_type_ids."""
        import numpy as np
        from tokenizers import Tokenizer

        if self._batch is None:
            self._batch = Tokenizer.from_file(str(self._path))
        tok = self._batch
        if max_length:
            tok.enable_truncation(max_length)
        else:
            tok.no_truncation()
        if padding:
            tok.enable_padding(pad_id=self.pad_id(), pad_token=self.pad_token)
        else:
            tok.no_padding()
        encs = tok.encode_batch(texts)
        return {
            "input_ids": np.array([e.ids for e in encs], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encs], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encs], dtype=np.int64),
        }
