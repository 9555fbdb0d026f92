"""`make run`: ranked proposals for a handful of demo children of different kinds."""

from __future__ import annotations

import argparse
from datetime import date

from api.cli import err, out, render_ranking
from geo.gazetteer import default_gazetteer
from matcher.rank import Matcher
from models.dataset import Dataset, load_dataset
from models.domain import Child
from models.synthetic import REFERENCE_DATE

__all__ = ["demo_children", "main"]


def demo_children(dataset: Dataset) -> list[tuple[str, Child]]:
    """One child of each kind a coordinator meets, when the dataset has one."""
    network_of = dataset.network_by_child
    kinds: list[tuple[str, object]] = [
        ("acute child", lambda c: c.acute and not c.sibling_group),
        ("support level 4", lambda c: c.support_level == 4 and not c.sibling_group),
        ("sibling group", lambda c: c.sibling_group is not None),
        (
            "child with approved network",
            lambda c: any(p.status.value == "approved" for p in network_of.get(c.child_id, ())),
        ),
        ("child with no school (under 6)", lambda c: c.school is None and c.age < 6),
        ("child open to a combination placement", lambda c: c.combination_ok),
    ]
    chosen: list[tuple[str, Child]] = []
    for title, test in kinds:
        for child in dataset.children:
            if test(child):  # type: ignore[operator]
                chosen.append((title, child))
                break
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", required=True)
    parser.add_argument("--top", type=int, default=5)
    args = parser.parse_args()
    dataset = load_dataset(args.data, default_gazetteer())
    matcher = Matcher(dataset)
    as_of: date = REFERENCE_DATE
    for title, child in demo_children(dataset):
        out.rule(f"{title}: {child.child_id}")
        render_ranking(matcher.rank(child.child_id, top=args.top, as_of=as_of), why_not=False)
    err.print(
        f"Try: .venv/bin/placement rank --data {args.data} --child "
        f"{dataset.children[0].child_id} --why-not --as-of {as_of}"
    )


if __name__ == "__main__":
    main()
