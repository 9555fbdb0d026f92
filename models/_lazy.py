"""Lazy package exports (PEP 562): a package says which module each of its names lives in,
and a name is imported on first use. `from models.enums import Kind` then costs the enums
alone, not the dataset loader and numpy (the command line's `--help` pays only for what it
shows). Shared by `models`, `matcher` and `geo`."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    namespace: dict[str, Any], homes: Mapping[str, tuple[str, ...]]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A package's `__getattr__` and `__dir__` for `homes` (module -> the names it exports);
    `namespace` is the package's `globals()`, where a name imported once is kept."""
    where = {name: module for module, names in homes.items() for name in names}

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {namespace['__name__']!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *where})

    return __getattr__, __dir__
