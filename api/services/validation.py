"""Contract issues (file, row, column, value, allowed) as the `errors` of an Invalid input."""

from __future__ import annotations

from typing import Any

from models.errors import ValidationIssue

__all__ = ["issues_to_errors"]


def issues_to_errors(issues: list[ValidationIssue], prefix: str = "body") -> list[dict[str, Any]]:
    return [
        {
            "path": f"{prefix}.{i.column}" if i.column else prefix,
            "value": i.value,
            "allowed": i.allowed,
        }
        for i in issues
    ]
