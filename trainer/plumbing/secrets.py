"""Keeping credentials out of what layernas prints and writes: masking passwords in URLs and values of
secret-looking keys, and taking the storage URL from the environment (``LAYERNAS_STORAGE_URL``) so that a
password need not be on the command line at all."""

from __future__ import annotations

import os
import re
from typing import Any

ENV_STORAGE_URL = "LAYERNAS_STORAGE_URL"
MASK = "***"

# dict keys whose values are secrets (storage.password, wandb_api_key, hf_token, ...)
_SECRET_KEY = re.compile(r"(password|passwd|secret|api_?key|(^|[_-])token$)", re.IGNORECASE)
# URL query parameters that carry secrets (?password=..., ?sslpassword=..., ?api_key=..., ?access_token=...)
_SECRET_PARAM = re.compile(r"(pass|pwd|secret|token|api_?key|credential)", re.IGNORECASE)
# a URL inside a longer text: a scheme, then everything up to white space, a quote or a bracket
_URL_IN_TEXT = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>()\[\]{}]+")
# user:password@ (user may be empty); the password runs to the LAST '@', so a raw '@', ':' or '/' in it
# is masked whole (over-masking a rare '@' further on is the safe way to be wrong)
_USERINFO = re.compile(r"^(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@?#]*:)(?P<pw>.*)@")
_QUERY = re.compile(r"(?P<head>[?&;](?P<name>[^=&;#]*)=)(?P<value>[^&;#]*)")


def redact(value: Any) -> Any:
    """Mask passwords in URLs (``postgresql://user:***@host/db``, ``?password=***``), also inside texts
    and lists, and the values of secret-looking keys of dicts."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: MASK if _SECRET_KEY.search(str(k)) and v else redact(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(redact(v) for v in value)
    return value


def redact_text(text: str) -> str:
    """The text with every URL in it masked: the whole text when it is one URL, else each URL in it."""
    if "://" not in text:
        return text
    whole = redact_url(text)
    if whole is not None:
        return whole
    return _URL_IN_TEXT.sub(lambda m: _mask_by_pattern(m.group(0)), text)


def redact_url(url: str) -> str | None:
    """A URL as SQLAlchemy renders it with its password hidden and secret query values masked; None when
    ``url`` is not one URL that SQLAlchemy parses (a longer text, a file path)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    if any(c.isspace() for c in url):
        return None
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return None
    secret = {k: MASK for k in parsed.query if _SECRET_PARAM.search(k)}
    if parsed.password is None and not secret:
        return _mask_by_pattern(url)  # nothing for SQLAlchemy to hide: the URL stays as it was written
    if secret:
        parsed = parsed.set(query={**parsed.query, **secret})
    rendered = parsed.render_as_string(hide_password=True).replace("=%2A%2A%2A", f"={MASK}")
    return _mask_by_pattern(rendered)  # a raw '@' in a password ends SQLAlchemy's password early


def _mask_by_pattern(url: str) -> str:
    """Mask the password of ``scheme://user:password@...`` and secret query values, by pattern only."""
    url = _USERINFO.sub(lambda m: f"{m.group('head')}{MASK}@", url, count=1)
    return _QUERY.sub(lambda m: m.group("head") + (MASK if _SECRET_PARAM.search(m.group("name")) and m.group("value")
                                                  else m.group("value")), url)


def storage_url_from_env(kind: str, url: str | None) -> str | None:
    """``url`` as configured, else ``LAYERNAS_STORAGE_URL`` (for database storages, not journal files),
    else None: the password can live in the environment instead of the command line."""
    if url:
        return url
    if kind == "journal":
        return None
    return os.environ.get(ENV_STORAGE_URL) or None


def has_secret(url: str) -> bool:
    """Whether masking changes ``url``: it has a password or a secret query value."""
    return redact(url).count(MASK) > url.count(MASK)
