"""The `onnx-int8` embedding backend: the local sentence-transformers model exported to ONNX with
`torch.onnx.export`, its MatMul weights quantized to int8 per channel with onnxruntime's
`quantize_dynamic`, and run by onnxruntime with the model's own pooling.

Nothing is downloaded: the export reads the local model folder once and is cached in the models
folder under a key made from the model files and the recipe, so a changed model is re-exported.
Only the export needs torch (and the `onnx` package); encoding needs onnxruntime and the tokenizer.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
import warnings
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from qa.errors import ModelError

# Bump when the export or quantization recipe changes: cached exports are then redone.
RECIPE = "minilm-int8-v2"  # v2: traced with eager attention (see _export)
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def pooling_mode(model_dir: Path) -> str:
    """'mean' or 'cls', from the sentence-transformers module list; anything else is refused."""
    modules_file = model_dir / "modules.json"
    modules = json.loads(modules_file.read_text()) if modules_file.is_file() else []
    kinds = [m.get("type", "").rsplit(".", 1)[-1] for m in modules]
    extra = [k for k in kinds if k not in ("Transformer", "Pooling", "Normalize")]
    if extra:
        raise ModelError(
            f"The onnx-int8 embedding backend cannot run {model_dir} (it has {', '.join(extra)} "
            "layers); set QA_EMBED_BACKEND=torch."
        )
    pooling_dir = next((model_dir / m["path"] for m in modules
                        if m.get("type", "").endswith("Pooling")), model_dir / "1_Pooling")
    cfg_file = pooling_dir / "config.json"
    default = {"pooling_mode_mean_tokens": True}
    cfg = json.loads(cfg_file.read_text()) if cfg_file.is_file() else default
    modes = [k for k, v in cfg.items() if k.startswith("pooling_mode") and v]
    if modes == ["pooling_mode_mean_tokens"]:
        return "mean"
    if modes == ["pooling_mode_cls_token"]:
        return "cls"
    raise ModelError(
        f"The onnx-int8 embedding backend supports mean or CLS pooling, not {modes} "
        f"({cfg_file}); set QA_EMBED_BACKEND=torch."
    )


def cache_key(model_dir: Path) -> str:
    """Changes when any model file or the recipe changes (sizes and mtimes; no 90 MB hashing)."""
    import onnxruntime

    h = hashlib.sha256(f"{RECIPE}|{onnxruntime.__version__}".encode())
    for f in sorted(p for p in model_dir.rglob("*") if p.is_file()):
        st = f.stat()
        h.update(f"{f.relative_to(model_dir)}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def export_int8(model_dir: Path, target: Path) -> None:
    """Export `model_dir`'s transformer to ONNX and write its int8 quantization to `target`.

    The work runs in a child process whose working folder is a scratch folder: onnxruntime's
    quantizer writes shape-inference files (`sym_shape_infer_temp.onnx`, a `<uuid>.data` of the
    weights) into the current folder, and changing a server's folder under its other threads is
    not safe. The child also keeps torch out of a process that only needs onnxruntime.
    """
    import subprocess
    import sys

    target = target.absolute()  # the child runs in another folder
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelError(f"Cannot write the ONNX embedding model to {target.parent}: "
                         f"{exc.strerror or exc}. Set QA_MODEL_CACHE_DIR to a writable folder "
                         "(or QA_EMBED_BACKEND=torch).") from exc
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".export-") as tmp:
        out = Path(tmp) / "model.int8.onnx"
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "qa.models.onnx_embed", str(model_dir.resolve()), str(out)],
                cwd=tmp, capture_output=True, text=True, timeout=EXPORT_TIMEOUT_S,
                env={**os.environ, "PYTHONPATH": _package_root()},
            )
        except subprocess.TimeoutExpired as exc:
            raise ModelError(f"Exporting {model_dir} to ONNX int8 took over "
                             f"{EXPORT_TIMEOUT_S} s; set QA_EMBED_BACKEND=torch.") from exc
        if proc.returncode != 0 or not out.is_file():
            lines = (proc.stderr or proc.stdout).strip().splitlines()
            reason = lines[-1] if lines else f"exit code {proc.returncode}"
            raise ModelError(f"Cannot export {model_dir} to ONNX int8: {reason}; "
                             "set QA_EMBED_BACKEND=torch.")
        os.replace(out, target)  # atomic: a concurrent export writes the same bytes


EXPORT_TIMEOUT_S = 900


def _package_root() -> str:
    """PYTHONPATH for the child: the folder holding this `qa` package, then the parent's path."""
    root = str(Path(__file__).resolve().parents[2])  # above qa/models/
    return os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)


def _export(model_dir: Path, out: Path) -> None:
    """The export itself, run in a scratch folder by
    `python -m qa.models.onnx_embed MODEL_DIR OUT`."""
    try:
        import torch
        from onnxruntime.quantization import QuantType, quantize_dynamic
        from transformers import AutoModel, AutoTokenizer
    except ImportError as exc:
        raise ModelError(
            f"Building the onnx-int8 embedding model needs torch and onnx ({exc}): "
            "pip install onnx, or set QA_EMBED_BACKEND=torch."
        ) from exc

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    # Eager attention, not transformers' default SDPA: traced, SDPA's masking becomes IsNaN and
    # Where over every (batch, head, token, token) score, which took 28% of the int8 model's
    # time on 2 cores; eager is the plain matmul + mask + softmax (same vectors, 1.4x faster).
    model = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager").eval()
    # Two texts of different lengths, so the traced graph sees padding.
    sample = tokenizer(["An example sentence to trace the model with.", "Short one."],
                       padding=True, return_tensors="pt")
    names = [n for n in _INPUTS if n in sample]

    class Hidden(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, *args: Any) -> Any:
            return self.inner(**dict(zip(names, args, strict=True))).last_hidden_state

    fp32 = out.parent / "model.fp32.onnx"
    axes = {n: {0: "batch", 1: "tokens"} for n in [*names, "last_hidden_state"]}
    # The tracer warns about shape-dependent Python branches (all fixed for BERT-style models:
    # the mask always matches the input) and the quantizer logs advice to the root logger.
    logging.disable(logging.WARNING)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(Hidden(model), tuple(sample[n] for n in names), str(fp32),
                          input_names=names, output_names=["last_hidden_state"],
                          dynamic_axes=axes, opset_version=17, dynamo=False)
        # Per-channel int8 weights on the MatMuls only: per-tensor weights (and a quantized
        # embedding table) drift to cosine ~0.90 from fp32; this stays ~0.98+.
        quantize_dynamic(str(fp32), str(out), weight_type=QuantType.QInt8,
                         per_channel=True, op_types_to_quantize=["MatMul"])


class OnnxEncoder:
    """Encodes texts to unit vectors with the int8 ONNX model (exported on first use).

    Batches run side by side, one per CPU, each on a single thread, rather than one batch at a
    time spread over every CPU. A batch split over threads waits at every operator for its
    slowest thread, so any other busy thread on these cores (the rebuild's reader and writer,
    llama.cpp in `qa serve`, another process) stalls all of them; batches that run on their
    own lose only the CPU that is taken. On 2 cores, 609 news articles: raw encode 130 s against
    157 s, rebuild 152 s against 187 s (docs/benchmarks.md).
    """

    def __init__(self, model_dir: Path, cache_dir: Path, tokenizer: Any, max_tokens: int,
                 batch_size: int) -> None:
        self.pooling = pooling_mode(model_dir)
        self.path = cache_dir / "onnx" / f"{model_dir.name}-{cache_key(model_dir)}.int8.onnx"
        if not self.path.is_file():
            export_int8(model_dir, self.path)
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 3  # errors only: library code does not print
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(str(self.path), options,
                                                providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise ModelError(f"Cannot load the ONNX embedding model {self.path} ({exc}); "
                             "delete it to have it rebuilt.") from exc
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.tokenizer = tokenizer
        self.max_tokens = max_tokens
        self.batch_size = batch_size
        # Every CPU this process may run on (onnxruntime's own default counts physical cores,
        # which is one on some 2-vCPU machines).
        self.workers = len(os.sched_getaffinity(0))
        self._pool: Any = None
        self._lock = threading.Lock()  # the tokenizer is not shared between threads
        self._specials = _specials(tokenizer)

    def encode(self, texts: list[str]) -> Any:
        """One row per text, in order."""
        return next(self.encode_groups([texts]))

    def encode_groups(self, groups: Iterable[list[str]],
                      tokens: Iterable[list[Sequence[int] | None]] | None = None,
                      ) -> Iterator[Any]:
        """The vectors of each group of texts, group by group, as `encode` gives them, with
        the next group's batches already running while one is handed back (no worker waits
        for the last batch of a group). `tokens`, beside each group: the texts' word-piece
        ids where the caller has them (Chunk.tokens), used instead of tokenizing again.
        Callers in several threads share the workers."""
        import collections
        from concurrent.futures import Future, ThreadPoolExecutor

        import numpy as np

        with self._lock:
            if self._pool is None and self.workers > 1:
                self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="qa-onnx")
        # (group's output, its rows, batch's rows, vectors or their future, last batch?)
        pending: collections.deque[tuple[list[Any], Any, list[int], Any, bool]] = \
            collections.deque()

        def finished() -> Iterator[Any]:
            out, rows, idx, work, last = pending.popleft()
            if work is not None:
                vecs = work.result() if isinstance(work, Future) else work
                if not out:
                    out.append(np.zeros((rows, vecs.shape[1]), dtype=np.float32))
                out[0][idx] = vecs
            if last:
                yield out[0]

        known = iter(tokens) if tokens is not None else None
        for texts in groups:
            ids = next(known) if known is not None else None
            if not texts:
                pending.append(([np.zeros((0, 0), dtype=np.float32)], 0, [], None, True))
                continue
            out: list[Any] = []
            # Longest first, as sentence-transformers does: batches of similar length pad
            # little (and a text's vector depends a little on its batch: int8 activations are
            # scaled per batch).
            order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
            for start in range(0, len(order), self.batch_size):
                idx = order[start:start + self.batch_size]
                feed = self._feed([texts[i] for i in idx],
                                  [ids[i] for i in idx] if ids is not None else None)
                work = self._pool.submit(self._vectors, *feed) if self._pool is not None \
                    else self._vectors(*feed)
                pending.append((out, len(texts), idx, work,
                                start + self.batch_size >= len(order)))
                while len(pending) > 2 * self.workers:
                    yield from finished()
        while pending:
            yield from finished()

    def _feed(self, batch: list[str], ids: list[Sequence[int] | None] | None = None,
              ) -> tuple[dict[str, Any], Any]:
        """The model's inputs for a batch, and its attention mask (for the pooling): from
        the texts' known word-piece ids when every one is known and fits, else tokenized."""
        import numpy as np

        if ids is not None and self._specials is not None and all(
                x is not None and len(x) + self._specials[2] <= self.max_tokens for x in ids):
            before, after, extra, pad = self._specials
            width = max(len(x) for x in ids) + extra  # type: ignore[arg-type]
            enc = {"input_ids": np.full((len(ids), width), pad, dtype=np.int64),
                   "attention_mask": np.zeros((len(ids), width), dtype=np.int64),
                   "token_type_ids": np.zeros((len(ids), width), dtype=np.int64)}
            for k, x in enumerate(ids):
                n = len(before) + len(x)  # type: ignore[arg-type]
                enc["input_ids"][k, :len(before)] = before
                enc["input_ids"][k, len(before):n] = x
                enc["input_ids"][k, n:n + len(after)] = after
                enc["attention_mask"][k, :n + len(after)] = 1
        else:
            with self._lock:
                enc = self.tokenizer(batch, padding=True, truncation=True,
                                     max_length=self.max_tokens, return_tensors="np")
        return {n: enc[n].astype(np.int64) for n in self.inputs}, enc["attention_mask"]

    def _vectors(self, feed: dict[str, Any], mask: Any) -> Any:
        import numpy as np

        hidden = self.session.run(None, feed)[0]
        if self.pooling == "cls":
            vecs = hidden[:, 0]
        else:
            m = mask[..., None].astype(np.float32)
            vecs = (hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
        return vecs / np.clip(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12, None)


def _specials(tokenizer: Any) -> tuple[list[int], list[int], int, int] | None:
    """(ids before a text, ids after it, their number, the padding id) of the tokenizer, or
    None when it cannot say (then the encoder always tokenizes)."""
    if not hasattr(tokenizer, "special_ids"):
        return None
    before, after = tokenizer.special_ids()
    return before, after, len(before) + len(after), tokenizer.pad_id()


if __name__ == "__main__":
    import sys

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        _export(Path(sys.argv[1]), Path(sys.argv[2]))
    except Exception as exc:  # noqa: BLE001 - the parent reports the last line
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(1)
