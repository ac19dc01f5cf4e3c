"""Canonical article URLs: tracking parameters, amp variants, scheme, trailing slash collapsed."""

from __future__ import annotations

import hashlib
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import courlan

_TRACKING = re.compile(r"^(utm_|fbclid$|gclid$|dclid$|msclkid$|mc_(cid|eid)$|igshid$|"
                       r"yclid$|_hs(enc|mi)$|ref$|ref_src$|cmpid$|ocid$|spm$|s_cid$)", re.I)
_AMP_QUERY = {("amp", "1"), ("amp", "true"), ("amp", ""), ("outputtype", "amp")}
_AMP_PATH = re.compile(r"(/amp/?$|^/amp(?=/)|\.amp(?=\.html?$|$)|/amp(?=/[^/]*$))", re.I)


def canonical_url(url: str) -> str:
    """One spelling per article: https, lower-case host without www./amp., no fragment, no
    tracking or amp parameters, sorted query, no trailing slash. "" for anything not http(s)."""
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return ""
    normalized = courlan.normalize_url(url, strict=False) or url
    parts = urlsplit(normalized)
    host = (parts.hostname or "").lower().rstrip(".")
    for prefix in ("www.", "amp.", "m."):
        host = host.removeprefix(prefix)
    if parts.port and parts.port not in (80, 443):
        host = f"{host}:{parts.port}"
    query = sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                   if not _TRACKING.match(k) and (k.lower(), v.lower()) not in _AMP_QUERY)
    path = _AMP_PATH.sub("", parts.path) or "/"
    path = path.rstrip("/") or ""
    return urlunsplit(("https", host, path, urlencode(query), ""))


def tidy_url(url: str) -> str:
    """The URL as shown to users: its own scheme and host, without tracking parameters or
    fragment ("" for anything not http(s))."""
    parts = urlsplit((url or "").strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return ""
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if not _TRACKING.match(k)]
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/",
                       urlencode(query), ""))


def site_of(url: str) -> str:
    """The site's host name as a folder name ("news.example.com"), "site" if there is none."""
    host = urlsplit(canonical_url(url)).hostname or ""
    return re.sub(r"[^a-z0-9.-]+", "-", host) or "site"


def file_stem(url: str) -> str:
    """A stable file name for the article at `url`: words of its path and a hash of the
    canonical URL, so every re-fetch of the same article writes the same file."""
    canon = canonical_url(url) or url
    path = urlsplit(canon).path
    words = re.sub(r"\.[a-z]{2,5}$", "", path.rsplit("/", 1)[-1].lower())
    words = re.sub(r"[^a-z0-9]+", "-", words).strip("-")[:60].strip("-")
    digest = hashlib.sha1(canon.encode()).hexdigest()[:10]
    return f"{words}-{digest}" if words else digest
