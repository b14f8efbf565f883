"""Quoting untrusted text (commands, file keys, model replies) inside error messages."""

from __future__ import annotations


def shown(text: object, limit: int = 80) -> str:
    """`text` as it may appear in a one-line error: whitespace runs (newlines too) become
    one space, other control characters are escaped, and it is cut to `limit`
    characters. Errors are logged and published; input must not be able to forge lines
    or hide itself with terminal escapes."""
    flat = " ".join(str(text).split())[:limit]
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in flat)


def quoted(text: object, limit: int = 80) -> str:
    """`text` for quoting in a one-line error (see `shown`), with "…" where it is cut:
    a cut command must not read as the whole command."""
    flat = " ".join(str(text).split())
    return shown(flat, limit) if len(flat) <= limit else shown(flat, limit - 1) + "…"
