"""Per-row validation, the field parsers: typed access to one text row that records every
problem (file, row, column, value, what is allowed) instead of stopping at the first."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import date
from enum import Enum
from typing import TypeVar

from models.dataset._contract import PlaceResolver, inside_denmark
from models.domain import Place
from models.enums import NEEDS
from models.errors import ValidationIssue

__all__ = ["Row", "split_list"]

E = TypeVar("E", bound=Enum)

_KOMMUNE = re.compile(r"^\d{3}$")
_POSTCODE = re.compile(r"^\d{4}$")


class Row:
    """Typed access to one CSV row that records every problem instead of stopping."""

    def __init__(
        self,
        file: str,
        line: int | None,
        values: Mapping[str, str],
        issues: list[ValidationIssue],
    ) -> None:
        self.file = file
        self.line = line
        self.values = values
        self.issues = issues
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
        try:
            number = float(value)
        except ValueError:
            self.issue(column, value, f"a number {_range(lo, hi)}")
            return None
        if not math.isfinite(number) or number < lo or (hi is not None and number > hi):
            self.issue(column, value, f"a number {_range(lo, hi)}")
            return None
        return number

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
        allowed = ", ".join(
            str(m.value) if not isinstance(m.value, int) else m.name.lower() for m in enum
        )
        if not value:
            if required:
                self.issue(column, None, f"one of {allowed} is required")
            return None
        for member in enum:
            if value == (member.name.lower() if isinstance(member.value, int) else member.value):
                return member
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
                    f"{lat_raw},{lon_raw}",
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


def _range(lo: float, hi: float | None) -> str:
    return f">= {lo}" if hi is None else f"from {lo} to {hi}"


def split_list(value: str) -> list[str]:
    """The items of a `;`-separated list cell (needs, wishes, target_groups)."""
    return [v.strip() for v in value.split(";") if v.strip()]
