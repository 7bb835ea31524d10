"""Kubernetes resource quantities ("250m", "1536Mi", "2", "1.5Gi", "1e3", "128974848") as Decimals.

Same grammar as k8s.io/apimachinery/pkg/api/resource: a signed decimal number followed by a binary
suffix (Ki..Ei, powers of 1024), a decimal suffix (n u m "" k M G T P E, powers of 1000) or a decimal
exponent (e3, E-2). "m" is milli, "M" is mega.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_QUANTITY = re.compile(
    r"^(?P<num>[+-]?(?:\d+(?:\.\d*)?|\.\d+))"
    r"(?:(?P<exp>[eE][+-]?\d+)|(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?)$"
)


def parse_quantity(value: str | int | float) -> Decimal:
    """Parse a quantity into a Decimal in base units (cores, bytes). Raises ValueError naming the value."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a Kubernetes quantity")
    if isinstance(value, int | float):
        return Decimal(str(value))
    text = str(value).strip()
    match = _QUANTITY.match(text)
    if not match:
        raise ValueError(f"{value!r} is not a Kubernetes quantity (e.g. '250m', '2', '1536Mi', '1.5Gi')")
    try:
        number = Decimal(match.group("num"))
    except InvalidOperation as exc:  # pragma: no cover - the regex admits only valid decimals
        raise ValueError(f"{value!r} is not a Kubernetes quantity") from exc
    if match.group("exp"):
        return number.scaleb(int(match.group("exp")[1:]))
    suffix = match.group("suffix") or ""
    if suffix in _BINARY:
        return number * (Decimal(1024) ** _BINARY[suffix])
    return number.scaleb(_DECIMAL[suffix])


def format_cpu(cores: Decimal | float) -> str:
    """0.25 -> '250m', 2 -> '2'."""
    value = Decimal(str(cores))
    if value == value.to_integral_value():
        return str(int(value))
    return f"{int((value * 1000).to_integral_value())}m"


def format_bytes(amount: Decimal | float) -> str:
    """1610612736 -> '1.5Gi'."""
    value = float(amount)
    for unit in ("Ei", "Pi", "Ti", "Gi", "Mi", "Ki"):
        size = 1024.0 ** _BINARY[unit]
        if abs(value) >= size:
            return f"{value / size:.3g}{unit}"
    return f"{value:g}"
