"""Malformed frames for fault injection: a frame cut short, or valid JSON carrying one bad value.

A truncated frame is not JSON at all (a broken connection, as a client must read it); a corrupted one keeps
its envelope and breaks a single decimal (a price or a size), so only the payload fails to decode and a
client can tell which book it belonged to. Exchange-neutral: it walks whatever JSON the face produced.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import msgspec

__all__ = ["malformed"]


def malformed(data: bytes | str, mode: str) -> bytes | str:
    """``truncate``: the first half of the frame. ``corrupt``: valid JSON with its first decimal string
    replaced by garbage (so only the value fails to decode); truncated when it holds none."""
    raw = data.encode() if isinstance(data, str) else data
    if mode == "corrupt":
        try:
            tree = msgspec.json.decode(raw)
        except msgspec.DecodeError:
            tree = None
        if tree is not None and _corrupt(tree):
            out = msgspec.json.encode(tree)
            return out.decode() if isinstance(data, str) else out
    cut = raw[: max(1, len(raw) // 2)]
    return cut.decode("utf-8", "replace") if isinstance(data, str) else cut


def _corrupt(node: object) -> bool:
    """Replace the first string holding a decimal number (a price, a size) in place; True if one was found."""
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, str) and _is_decimal(value):
                node[key] = "not-a-number"
                return True
            if _corrupt(value):
                return True
    elif isinstance(node, list):
        for index, value in enumerate(node):
            if isinstance(value, str) and _is_decimal(value):
                node[index] = "not-a-number"
                return True
            if _corrupt(value):
                return True
    return False


def _is_decimal(text: str) -> bool:
    if not text or not any(c.isdigit() for c in text):
        return False
    try:
        Decimal(text)
    except InvalidOperation:
        return False
    return True
