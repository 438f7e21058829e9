"""A place's holidays, from the ``holidays`` package: the one source that the features mart
(``public_holidays``), the boosted models' flags and Prophet's holidays all read.

A place is an ISO 3166 code: a country (``JP``) or one of its regions (``DE-SN``, Saxony). A
region's public calendar includes the national days.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from functools import lru_cache

import holidays

PUBLIC = holidays.PUBLIC
SCHOOL = holidays.SCHOOL
CATEGORIES = (PUBLIC, SCHOOL)


def place_code(country: str, subdivision: str | None = None) -> str:
    return f"{country}-{subdivision}" if subdivision else country


def split_place(place: str) -> tuple[str, str | None]:
    country, _, subdivision = place.partition("-")
    return country, subdivision or None


def calendar(
    place: str, years: Iterable[int], categories: Iterable[str] = CATEGORIES
) -> dict[str, dict[dt.date, str]]:
    """Per category the package has for this place, its days and names (several holidays on one
    day come joined as 'A; B'). Raises NotImplementedError for a place the package does not know."""
    country, subdivision = split_place(place)
    years = list(years)
    known = holidays.country_holidays(country, subdiv=subdivision).supported_categories
    return {
        category: dict(
            holidays.country_holidays(
                country, subdiv=subdivision, years=years, categories=(category,)
            )
        )
        for category in categories
        if category in known
    }


@lru_cache(maxsize=256)
def holiday_days(
    place: str, first_year: int, last_year: int, category: str = PUBLIC
) -> tuple[tuple[dt.date, str], ...]:
    """The place's days of one category in these years, sorted; none for an unknown place."""
    try:
        days = calendar(place, range(first_year, last_year + 1), (category,)).get(category, {})
    except NotImplementedError:
        return ()
    return tuple(sorted(days.items()))


def subdivisions(country: str) -> tuple[str, ...]:
    """The regions the package knows for a country (``()`` for none, or an unknown country)."""
    try:
        return tuple(holidays.country_holidays(country).subdivisions)
    except NotImplementedError:
        return ()
