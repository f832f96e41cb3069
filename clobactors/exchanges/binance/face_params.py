"""Binance face: request parameters read and checked the way Binance checks them, and the error it answers.

A request's parameters (query string plus form body, rest-api.md § General information on endpoints) are
read through :class:`Params`, which raises :class:`FaceError` with Binance's code and text for every kind
of bad input: a duplicate (-1101), a missing mandatory value (-1102), an empty optional one (-1105), illegal
characters (-1100, with the legal range Binance quotes), too much precision (-1111), an invalid enum
(-1115/-1116/-1117), and parameters nobody read (-1104). Sans-IO: no clock, no sockets.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Final, final

import msgspec

from clobactors.exchanges.binance.errors import (
    ERROR_MESSAGES,
    MSG_ILLEGAL_CHARS,
    MSG_INVALID_PARAMETER,
    MSG_MANDATORY_PARAM,
    ErrorCode,
    error_body,
)
from clobactors.exchanges.binance.wire_base import ErrorBody, encode

__all__ = ["FaceError", "Params"]

_DECIMAL_RANGE: Final = r"^([0-9]{1,20})(\.[0-9]{1,20})?$"
_INTEGER_RANGE: Final = r"^[0-9]{1,20}$"
_SYMBOL_RANGE: Final = r"^[A-Z0-9-_.]{1,20}$"
_CLIENT_ID_RANGE: Final = r"^[\.A-Z\:/a-z0-9_-]{1,36}$"
_DECIMAL_RE: Final = re.compile(_DECIMAL_RANGE)
_INTEGER_RE: Final = re.compile(_INTEGER_RANGE)
_SYMBOL_RE: Final = re.compile(_SYMBOL_RANGE)
_CLIENT_ID_RE: Final = re.compile(_CLIENT_ID_RANGE)
#: Binance accepts prices and quantities with at most this many decimals (asset precision).
MAX_DECIMALS: Final = 8


@final
class FaceError(Exception):
    """An answer in Binance's error shape: ``{"code", "msg"}`` with an HTTP status and extra headers, and
    ``"data"`` (raw JSON) where the docs add it (cancel-replace's per-side results)."""

    def __init__(
        self,
        code: int,
        msg: str | None = None,
        *,
        status: int = 400,
        headers: Sequence[tuple[str, str]] = (),
        data: bytes | None = None,
    ) -> None:
        self.code = code
        self.msg = msg if msg is not None else ERROR_MESSAGES[code]
        self.status = status
        self.headers = tuple(headers)
        self.data = data
        super().__init__(f"{code} {self.msg}")

    def body(self) -> bytes:
        if self.data is not None:
            return encode(ErrorBody(code=self.code, msg=self.msg, data=msgspec.Raw(self.data)))
        return error_body(self.code, self.msg)


def _illegal(name: str, legal: str) -> FaceError:
    return FaceError(ErrorCode.ILLEGAL_CHARS, MSG_ILLEGAL_CHARS % (name, legal))


def mandatory(name: str) -> FaceError:
    return FaceError(ErrorCode.MANDATORY_PARAM_EMPTY_OR_MALFORMED, MSG_MANDATORY_PARAM % name)


def invalid(name: str) -> FaceError:
    return FaceError(ErrorCode.INVALID_PARAMETER, MSG_INVALID_PARAMETER % name)


@final
class Params:
    """The parameters of one request, read once each; see the module docstring for the errors."""

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self._values: dict[str, str] = {}
        for name, value in pairs:
            if name in self._values:
                raise FaceError(ErrorCode.TOO_MANY_PARAMETERS, "Duplicate values for a parameter detected.")
            self._values[name] = value
        self._read: set[str] = set()

    def __contains__(self, name: str) -> bool:
        return name in self._values

    def names(self) -> frozenset[str]:
        return frozenset(self._values)

    def mark_read(self, *names: str) -> None:
        """Parameters checked elsewhere (``signature`` by the signature check)."""
        self._read.update(names)

    def raw(self, name: str, *, required: bool = False) -> str | None:
        """The value as sent; ``None`` when absent. Empty: -1102 if required, else -1105."""
        self._read.add(name)
        value = self._values.get(name)
        if value is None:
            if required:
                raise mandatory(name)
            return None
        if value == "":
            if required:
                raise mandatory(name)
            raise FaceError(ErrorCode.PARAM_EMPTY, f"Parameter '{name}' was empty.")
        return value

    def symbol(self, name: str = "symbol", *, required: bool = True) -> str | None:
        value = self.raw(name, required=required)
        if value is not None and not _SYMBOL_RE.match(value):
            raise _illegal(name, _SYMBOL_RANGE)
        return value

    def client_id(self, name: str) -> str | None:
        value = self.raw(name)
        if value is not None and not _CLIENT_ID_RE.match(value):
            raise _illegal(name, _CLIENT_ID_RANGE)
        return value

    def integer(self, name: str, *, required: bool = False) -> int | None:
        value = self.raw(name, required=required)
        if value is None:
            return None
        if not _INTEGER_RE.match(value):
            raise _illegal(name, _INTEGER_RANGE)
        return int(value)

    def decimal(self, name: str, *, required: bool = False) -> Decimal | None:
        value = self.raw(name, required=required)
        if value is None:
            return None
        if not _DECIMAL_RE.match(value):
            raise _illegal(name, _DECIMAL_RANGE)
        try:
            number = Decimal(value)
        except InvalidOperation:  # pragma: no cover - the pattern admits only valid decimals
            raise _illegal(name, _DECIMAL_RANGE) from None
        exponent = number.normalize().as_tuple().exponent
        if isinstance(exponent, int) and -exponent > MAX_DECIMALS:
            raise FaceError(ErrorCode.BAD_PRECISION, f"Parameter '{name}' has too much precision.")
        return number

    def choice(self, name: str, allowed: Iterable[str], *, code: int | None = None) -> str | None:
        """An enum value; outside ``allowed`` gives ``code`` (its documented text) or -1130."""
        value = self.raw(name)
        if value is None or value in allowed:
            return value
        raise FaceError(code) if code is not None else invalid(name)

    def boolean(self, name: str) -> bool | None:
        value = self.raw(name)
        if value is None:
            return None
        lowered = value.lower()
        if lowered not in ("true", "false"):
            raise invalid(name)
        return lowered == "true"

    def finish(self) -> None:
        """Every parameter must have been read (Binance -1104 names the counts)."""
        unread = set(self._values) - self._read
        if unread:
            raise FaceError(
                ErrorCode.UNREAD_PARAMETERS,
                f"Not all sent parameters were read; read '{len(self._values) - len(unread)}' parameter(s) "
                f"but was sent '{len(self._values)}'.",
            )
