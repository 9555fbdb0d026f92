"""Per-row validation, the field parsers: typed access to one text row that records every
problem (file, row, column, value, what is allowed) instead of stopping at the first."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import date
from enum import Enum
from functools import cache
from typing import TypeVar, cast

from models.dataset._contract import PlaceResolver, inside_denmark
from models.domain import Place
from models.enums import NEEDS
from models.errors import ValidationIssue

__all__ = ["Row", "plain_kroner", "split_list"]

E = TypeVar("E", bound=Enum)

_KOMMUNE = re.compile(r"^\d{3}$")
_POSTCODE = re.compile(r"^\d{4}$")
# "4.250" in a kroner column: a Danish thousands dot, or 4.25 kr.? Refused, never guessed.
_THOUSANDS = re.compile(r"[1-9]\d{0,2}(\.\d{3})+(,\d*)?")


class Row:
    """Typed access to one CSV row that records every problem instead of stopping.

    With `decimal_comma` (a `;`-separated file, a workbook) a number may also be written
    `55,67`, as Danish Excel writes it."""

    def __init__(
        self,
        file: str,
        line: int | None,
        values: Mapping[str, str],
        issues: list[ValidationIssue],
        decimal_comma: bool = False,
    ) -> None:
        self.file = file
        self.line = line
        self.values = values
        self.issues = issues
        self.decimal_comma = decimal_comma
        self.ok = True

    def issue(self, column: str | None, value: str | None, allowed: str) -> None:
        self.ok = False
        self.issues.append(ValidationIssue(self.file, self.line, column, value, allowed))

    def raw(self, column: str) -> str:
        return (self.values.get(column) or "").strip()

    def text(self, column: str, required: bool = False) -> str | None:
        value = self.raw(column)
        if not value:
            if required:
                self.issue(column, None, "a value is required")
            return None
        return value

    def integer(
        self, column: str, lo: int, hi: int | None, required: bool = False, default: int = 0
    ) -> int:
        value = self.raw(column)
        if not value:
            if required:
                self.issue(column, None, f"a whole number {_range(lo, hi)} is required")
            return default
        try:
            number = int(value)
        except ValueError:
            self.issue(column, value, f"a whole number {_range(lo, hi)}")
            return default
        if number < lo or (hi is not None and number > hi):
            self.issue(column, value, f"a whole number {_range(lo, hi)}")
            return default
        return number

    def real(self, column: str, lo: float, hi: float | None = None) -> float | None:
        value = self.raw(column)
        if not value:
            return None
        number: float | None
        try:
            number = float(value)
        except ValueError:
            number = self._comma_number(value)
        if (
            number is None
            or not math.isfinite(number)
            or number < lo
            or (hi is not None and number > hi)
        ):
            allowed = f"a number {_range(lo, hi)}"
            if self.decimal_comma:
                allowed += ", with ',' or '.' as the decimal separator and no thousands separator"
            self.issue(column, value, allowed)
            return None
        return number

    def kroner(self, column: str, lo: float = 0.0) -> float | None:
        """An amount in DKK (a rate). A value written with a thousands dot is refused: a
        Danish export means 4,250 kr. by "4.250", an English one 4.25 kr."""
        value = self.raw(column)
        plain = plain_kroner(value)
        if plain is not None:
            self.issue(column, value, f"kroner without a thousands separator, e.g. {plain}")
            return None
        return self.real(column, lo)

    def _comma_number(self, value: str) -> float | None:
        # One comma and no point: `1.234,5` is refused, since in `1.234` the point would be
        # the decimal one and a thousands separator cannot be told apart from it.
        if not self.decimal_comma or value.count(",") != 1 or "." in value:
            return None
        try:
            return float(value.replace(",", "."))
        except ValueError:
            return None

    def flag(self, column: str, default: bool = False) -> bool:
        value = self.raw(column)
        if not value:
            return default
        if value not in ("0", "1"):
            self.issue(column, value, "0 or 1")
            return default
        return value == "1"

    def choice(self, column: str, enum: type[E], required: bool = True) -> E | None:
        value = self.raw(column)
        members, allowed = _choices(enum)
        if not value:
            if required:
                self.issue(column, None, f"one of {allowed} is required")
            return None
        member = members.get(value)
        if member is not None:
            return cast(E, member)
        self.issue(column, value, f"one of {allowed}")
        return None

    def kommune(self, column: str, places: PlaceResolver) -> str:
        value = self.raw(column)
        if not _KOMMUNE.match(value):
            self.issue(column, value or None, "a 3-digit kommune code, e.g. 860")
        elif not places.has_kommune(value):
            self.issue(column, value, "a kommune code from dk_kommuner.csv (98 kommuner)")
        return value

    def needs(self, column: str) -> frozenset[str]:
        items = split_list(self.raw(column))
        unknown = [n for n in items if n not in NEEDS]
        if unknown:
            self.issue(column, ";".join(unknown), "needs from: " + ", ".join(NEEDS))
        return frozenset(n for n in items if n in NEEDS)

    def iso_date(self, column: str) -> date | None:
        value = self.raw(column)
        if not value:
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            self.issue(column, value, "an ISO date YYYY-MM-DD")
            return None

    def place(
        self,
        places: PlaceResolver,
        lat_col: str,
        lon_col: str,
        code_col: str,
        code_kind: str,
        required: bool,
    ) -> Place | None:
        """lat/lon when both are given, else the postcode (or school id) resolved offline."""
        lat_raw, lon_raw, code = self.raw(lat_col), self.raw(lon_col), self.raw(code_col)
        lookup = places.postcode_point if code_kind == "postcode" else places.school_point
        resolved: tuple[float, float] | None = None
        if code:
            if code_kind == "postcode" and not _POSTCODE.match(code):
                self.issue(code_col, code, "a 4-digit Danish postcode")
            else:
                resolved = lookup(code)
                if resolved is None:
                    what = (
                        "postcode in dk_postcodes.csv"
                        if code_kind == "postcode"
                        else ("institution number in dk_schools.csv")
                    )
                    self.issue(code_col, code, f"a known {what}")
        postcode = code if code_kind == "postcode" and code else None
        school_id = code if code_kind == "school" and code else None
        if lat_raw or lon_raw:
            lat = self.real(lat_col, -90.0, 90.0)
            lon = self.real(lon_col, -180.0, 180.0)
            if not lat_raw or not lon_raw:
                missing = lat_col if not lat_raw else lon_col
                self.issue(missing, None, f"{lat_col} and {lon_col} are given together")
                return None
            if lat is None or lon is None:
                return None
            if not inside_denmark(lat, lon):
                self.issue(
                    f"{lat_col},{lon_col}",
                    f"{lat_raw};{lon_raw}" if self.decimal_comma else f"{lat_raw},{lon_raw}",
                    "a point inside Denmark (lat 54.5-57.8, lon 8.0-15.3)",
                )
                return None
            return Place(lat, lon, postcode, school_id)
        if resolved is not None:
            return Place(resolved[0], resolved[1], postcode, school_id)
        if not code and required:
            self.issue(
                f"{lat_col},{lon_col} or {code_col}",
                None,
                f"a location is required: {lat_col} and {lon_col}, or {code_col}",
            )
        return None


@cache
def _choices(enum: type[Enum]) -> tuple[dict[str, Enum], str]:
    """The text of each member (its name for int-valued enums, else its value) and the list
    of them for messages; built once per enum, since every row of a file asks."""
    texts = {(m.name.lower() if isinstance(m.value, int) else str(m.value)): m for m in enum}
    return texts, ", ".join(texts)


def _range(lo: float, hi: float | None) -> str:
    return f">= {lo}" if hi is None else f"from {lo} to {hi}"


def plain_kroner(value: str) -> str | None:
    """The amount without its Danish thousands dots ("4.250" -> "4250", "4.250,50" ->
    "4250,50") when it is written with them; None otherwise."""
    return value.replace(".", "") if _THOUSANDS.fullmatch(value) else None


def split_list(value: str) -> list[str]:
    """The items of a `;`-separated list cell (needs, wishes, target_groups)."""
    return [v.strip() for v in value.split(";") if v.strip()]
