"""Who may call the API: bearer tokens from the QA_API_TOKENS file, admin tokens for rebuilds;
without any auth configured, loopback clients only."""

from __future__ import annotations

import hmac
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from fastapi import Request

from qa.api.errors import ApiError
from qa.config import Settings
from qa.errors import ConfigError

ROLES = ("admin",)


def read_token_file(path: Path) -> dict[str, bool]:
    """`TOKEN` or `TOKEN admin` lines (blank lines and # comments ignored) -> {token: admin}."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"Cannot read the API token file {path}: {exc.strerror or exc}.") \
            from exc
    tokens: dict[str, bool] = {}
    for i, line in enumerate(lines, start=1):
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        if len(words) > 2 or (len(words) == 2 and words[1] not in ROLES):
            raise ConfigError(f"{path}:{i}: expected `TOKEN` or `TOKEN admin`.")
        if len(words[0]) < 16:
            raise ConfigError(f"{path}:{i}: the token is shorter than 16 characters; use a "
                              "long random one (e.g. `openssl rand -hex 32`).")
        tokens[words[0]] = len(words) == 2
    if not tokens:
        raise ConfigError(f"The API token file {path} has no token.")
    return tokens


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, message, "authentication_error", "invalid_api_key",
                    headers={"WWW-Authenticate": "Bearer"})


@dataclass(frozen=True)
class ApiAuth:
    """The API's guard; `user` and `admin` are FastAPI dependencies."""

    tokens: dict[str, bool] | None  # None: no token file
    login: bool  # the page asks for a login (auth_file), so the API must not be open

    @classmethod
    def from_settings(cls, settings: Settings) -> ApiAuth:
        tokens = read_token_file(settings.api_tokens) if settings.api_tokens else None
        return cls(tokens=tokens, login=settings.auth_file is not None)

    @property
    def enabled(self) -> bool:
        return self.tokens is not None or self.login

    def role(self, request: Request) -> str:
        """"admin" or "user"; raises the 401 the request deserves."""
        if not self.enabled:
            if not _loopback(request):
                raise _unauthorized("The API answers this machine only while no auth is "
                                    "configured: set QA_API_TOKENS on the server to use it "
                                    "from elsewhere.")
            return "admin"
        if self.tokens is None:
            raise _unauthorized("The API needs a token, and the server has none: set "
                                "QA_API_TOKENS to a file of tokens (the UI login does not "
                                "apply to the API).")
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            raise _unauthorized("Missing API token: send `Authorization: Bearer <token>` "
                                "with a token from the server's QA_API_TOKENS file.")
        for token, admin in self.tokens.items():
            if hmac.compare_digest(token.encode(), given.strip().encode()):
                return "admin" if admin else "user"
        raise _unauthorized("Invalid API token: use one from the server's QA_API_TOKENS file.")

    def user(self, request: Request) -> str:
        return self.role(request)

    def admin(self, request: Request) -> str:
        if self.role(request) != "admin":
            raise ApiError(403, "This needs an admin token (a `TOKEN admin` line of the "
                           "QA_API_TOKENS file).", "permission_error", "admin_only")
        return "admin"


def _loopback(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
