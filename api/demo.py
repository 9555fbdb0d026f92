"""`make run`: a fresh database with the demo dataset, one demo key per role, the service.

Also prints ranked proposals for a handful of demo children of different kinds, so the
console shows what a coordinator will see at POST /v1/children/{id}/proposals."""

from __future__ import annotations

import argparse
from datetime import date

from sqlalchemy.orm import sessionmaker

from api.cli.common import err, out
from api.cli.render import render_ranking
from api.db.engine import make_engine, session_scope
from api.db.migrate import upgrade
from api.services.caller import Role
from api.services.data import import_dataset
from api.services.keys import create_key
from api.services.runtime import Service
from geo.gazetteer import default_gazetteer
from matcher.rank import Matcher
from models.dataset import Dataset, load_dataset
from models.domain import Child

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
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--no-serve", action="store_true")
    args = parser.parse_args()
    gazetteer = default_gazetteer()
    dataset = load_dataset(args.data, gazetteer)
    matcher = Matcher(dataset)
    today = date.today()
    for title, child in demo_children(dataset):
        out.rule(f"{title}: {child.child_id}")
        render_ranking(matcher.rank(child.child_id, top=args.top, as_of=today), why_not=False)
    engine = make_engine()
    upgrade(engine)
    with session_scope(sessionmaker(engine)) as session:
        import_dataset(session, dataset)
        kommuner = sorted(
            {c.kommune_code for c in dataset.children}
            | {f.kommune_code for f in dataset.families}
            | {i.kommune_code for i in dataset.institutions}
        )
        keys = {role: create_key(session, role, kommuner, "demo") for role in Role}
    err.print(
        f"database {engine.url} loaded with the demo dataset; demo keys (all "
        f"{len(kommuner)} kommuner of the demo):",
        highlight=False,
    )
    for role, key in keys.items():
        err.print(f"  {role.value:<12} {key}", highlight=False)
    example = dataset.children[0].child_id
    err.print(
        f"try: curl -s -X POST -H 'Authorization: Bearer {keys[Role.COORDINATOR]}' "
        f"http://{args.host}:{args.port}/v1/children/{example}/proposals",
        highlight=False,
    )
    if args.no_serve:
        return
    import uvicorn

    from api.http.app import create_app

    err.print(
        f"serving on http://{args.host}:{args.port}: web pages at /ui (sign in with a key "
        "above), OpenAPI docs at /docs; Ctrl-C stops",
        highlight=False,
    )
    uvicorn.run(
        create_app(Service(engine, gazetteer)), host=args.host, port=args.port, log_level="warning"
    )


if __name__ == "__main__":
    main()
