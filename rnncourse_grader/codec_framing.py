"""Framing of the channel's messages: 8 ASCII hex digits of length, then UTF-8 JSON."""
from __future__ import annotations

import json
import re

from .codec_types import CodecError

__all__ = ["write_message", "read_message"]

_HEADER = re.compile(rb"[0-9a-fA-F]{8}\Z")


def write_message(fileobj, obj) -> None:
    """Write ``obj`` as one message (8 hex digits of length, then UTF-8 JSON) and flush.

    Raises
    ------
    CodecError
        ``obj`` is not JSON-serialisable or is larger than 4 GiB.
    """
    try:
        data = json.dumps(obj, allow_nan=False, separators=(",", ":")).encode("utf-8")
    except (TypeError, ValueError, RecursionError) as err:
        raise CodecError(f"not a JSON message: {err}") from None
    if len(data) > 0xFFFFFFFF:
        raise CodecError("message larger than 4 GiB")
    fileobj.write(b"%08x" % len(data) + data)
    fileobj.flush()


def read_exact(fileobj, n: int) -> bytes:
    """Up to ``n`` bytes of ``fileobj`` (fewer only at end of file; short reads are retried)."""
    chunks, got = [], 0
    while got < n:
        chunk = fileobj.read(n - got)
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def read_message(fileobj, max_bytes: int = 64 * 2 ** 20):
    """Read one message written by :func:`write_message`.

    Parameters
    ----------
    fileobj : binary file
        Read with ``read(n)`` (short reads are retried).
    max_bytes : int
        Longest message accepted; a longer one raises before its body is read.

    Returns
    -------
    The decoded JSON value.

    Raises
    ------
    EOFError
        The stream ended before the first byte of a message.
    CodecError
        Bad length header, oversize message, truncated body or invalid UTF-8/JSON.
    """
    head = read_exact(fileobj, 8)
    if not head:
        raise EOFError("end of the message stream")
    if not _HEADER.match(head):
        raise CodecError(f"bad message header {head[:8]!r} (8 hex digits expected)")
    size = int(head, 16)
    if size > max_bytes:
        raise CodecError(f"message of {size:,} bytes (at most {max_bytes:,})")
    body = read_exact(fileobj, size)
    if len(body) != size:
        raise CodecError(f"message cut short ({len(body):,} of {size:,} bytes)")
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise CodecError(f"message is not UTF-8 JSON ({type(err).__name__})") from None
