"""Fetching one URL safely (httpx): http(s) only, public addresses, capped size and redirects."""

from __future__ import annotations

import ipaddress
import re
import socket
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from qa.errors import FetchError

HTML_TYPES = ("text/html", "application/xhtml+xml")
_REDIRECTS = (301, 302, 303, 307, 308)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset=["']?([A-Za-z0-9_-]{2,40})""", re.I)


@dataclass(frozen=True)
class Limits:
    """How far a fetch may go: settings allow_private_urls, fetch_* and user_agent."""

    timeout: float = 20.0
    max_bytes: int = 5_000_000
    max_redirects: int = 5
    allow_private: bool = False
    user_agent: str = "qa-news-reader/0.1"

    @classmethod
    def from_settings(cls, settings: Any) -> Limits:
        return cls(settings.fetch_timeout, settings.fetch_max_bytes, settings.fetch_max_redirects,
                   settings.allow_private_urls, settings.user_agent)


@dataclass(frozen=True)
class Response:
    url: str  # where the body came from, after redirects
    status: int  # 200, or 304 when a conditional request found nothing new
    body: bytes = b""
    content_type: str = ""
    etag: str = ""
    last_modified: str = ""
    charset: str = ""

    def text(self) -> str:
        """The body decoded by the charset its headers or its <meta> declare (else UTF-8)."""
        charset = self.charset
        if not charset and (m := _META_CHARSET.search(self.body[:4096])):
            charset = m.group(1).decode("ascii")
        try:
            return self.body.decode(charset or "utf-8", errors="replace")
        except LookupError:
            return self.body.decode("utf-8", errors="replace")


def fetch(url: str, limits: Limits, client: httpx.Client, etag: str = "",
          last_modified: str = "") -> Response:
    """GET `url`, following at most limits.max_redirects redirects, each checked like the first.

    Raises FetchError (naming the URL and the fix) for a refused address, a network failure, a
    timeout, an HTTP error status or a body over limits.max_bytes.
    """
    headers = {"User-Agent": limits.user_agent}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    current = url
    for _ in range(limits.max_redirects + 1):
        check_address(current, limits.allow_private)
        try:
            with client.stream("GET", current, headers=headers,
                               timeout=limits.timeout) as resp:
                if resp.status_code in _REDIRECTS and resp.headers.get("location"):
                    current = urljoin(current, resp.headers["location"])
                    continue
                return _read(url, current, resp, limits)
        except httpx.TimeoutException as exc:
            raise FetchError(f"{url}: no answer within {limits.timeout:g} s (timeout). Try "
                             "again later, or raise fetch_timeout.") from exc
        except httpx.TransportError as exc:
            raise FetchError(f"{url}: cannot connect ({_reason(exc)}). Check the address and "
                             "your network, then try again.") from exc
    raise FetchError(f"{url}: more than {limits.max_redirects} redirects. Give the final "
                     "address of the page instead.")


def _read(url: str, final: str, resp: httpx.Response, limits: Limits) -> Response:
    status = resp.status_code
    if status >= 400:
        fix = ("check the address" if status < 500 else "the site has a problem; try again "
               "later")
        raise FetchError(f"{url}: the server answered HTTP {status} "
                         f"{resp.reason_phrase or ''}".rstrip() + f"; {fix}.")
    declared = resp.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limits.max_bytes:
        raise _too_big(url, limits)
    body = bytearray()
    deadline = time.monotonic() + limits.timeout  # a server trickling bytes is cut off too
    for piece in resp.iter_bytes():
        body.extend(piece)
        if len(body) > limits.max_bytes:
            raise _too_big(url, limits)
        if time.monotonic() > deadline:
            raise FetchError(f"{url}: the page took over {limits.timeout:g} s to arrive "
                             "(timeout). Try again later, or raise fetch_timeout.")
    return Response(
        url=final, status=status, body=bytes(body), charset=resp.charset_encoding or "",
        content_type=resp.headers.get("content-type", "").split(";")[0].strip().lower(),
        etag=resp.headers.get("etag", ""), last_modified=resp.headers.get("last-modified", ""),
    )


def _too_big(url: str, limits: Limits) -> FetchError:
    return FetchError(f"{url}: the response is over {limits.max_bytes:,} bytes "
                      "(fetch_max_bytes); raise that limit if the page is really an article.")


def _reason(exc: Exception) -> str:
    return str(exc).strip() or type(exc).__name__


def check_address(url: str, allow_private: bool) -> None:
    """Refuse anything but http(s), and (unless allowed) hosts that resolve to private,
    loopback, link-local or otherwise non-public addresses."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise FetchError(f"{url}: only http:// and https:// addresses can be fetched.")
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchError(f"{url}: the host {parts.hostname} is not found. Check the "
                         "address.") from exc
    for info in infos:
        ip = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if not ip.is_global or ip.is_multicast:
            shown = parts.hostname if parts.hostname == str(ip) else f"{parts.hostname} ({ip})"
            raise FetchError(f"{url}: {shown} is a private, loopback or link-local address; "
                             "refused. Set allow_private_urls (QA_ALLOW_PRIVATE_URLS=1, or "
                             "--allow-private) to fetch from your own network.")


def new_client() -> httpx.Client:
    """The client every fetch of one run shares (connection reuse); redirects are followed by
    `fetch` itself, so that each hop is checked."""
    return httpx.Client(follow_redirects=False)
