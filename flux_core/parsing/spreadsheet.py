"""Cell values echoed into CSV reports must not run as formulas when a spreadsheet opens them."""

from __future__ import annotations

# OWASP's list: formulas start with = + - @; a leading tab or carriage return can hide one.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: str) -> str:
    """``'=SUM(A1)`` instead of ``=SUM(A1)``: shown as text, never evaluated."""
    if value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
