"""`python -m benchmarks imports`: the cost of keeping one decision per child and of
importing as a sync.

- A re-import (the sync over a database with holds and placements of the service) and a dry
  run, against the first import into an empty database (the baseline: nothing to compare,
  nothing to keep).
- A hold and its confirmation through the use cases, with the one-decision checks, against
  the matcher's own `evaluate_option` of the same option (the baseline: the eligibility check
  every hold made before)."""

from __future__ import annotations

import tempfile
import time
from datetime import date
from pathlib import Path

from sqlalchemy.orm import sessionmaker

from api.db.engine import make_engine, session_scope
from api.db.migrate import upgrade
from api.services import data, holds
from api.services.caller import Principal, Role
from api.services.errors import DomainError
from api.services.inputs import ReservationCreate
from api.services.runtime import Service
from benchmarks.common import console, instance, percentile, print_table
from geo.gazetteer import default_gazetteer

__all__ = ["run"]


def run(quick: bool = False) -> None:
    scale = 10 if quick else 1
    ds = instance(3400 // scale, 5300 // scale, 700 // scale, seed=1)
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'imports.sqlite3'}")
        upgrade(engine)
        sessions = sessionmaker(engine)
        start = time.perf_counter()
        with session_scope(sessions) as session:
            data.import_dataset(session, ds)
        first = time.perf_counter() - start

        service = Service(engine, default_gazetteer())
        who = Principal(1, Role.COORDINATOR, frozenset(c.kommune_code for c in ds.children))
        hold_ms, check_ms, confirmed = [], [], 0
        singles = [c for c in ds.children if not c.sibling_group][: 300 // scale]
        for child in singles:
            with session_scope(service.sessions) as session:
                matcher = service.matcher(session)
                ranking = matcher.rank(child.child_id, top=1, as_of=date.today())
                if not ranking.proposals:
                    continue
                best = ranking.proposals[0]
                t0 = time.perf_counter()
                matcher.evaluate_option(child.child_id, best.option_id, best.kind)
                check_ms.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            try:
                with session_scope(service.sessions) as session:
                    body = ReservationCreate(child_id=child.child_id, option_id=best.option_id)
                    hold = holds.create_hold(session, service, who, body)
                with session_scope(service.sessions) as session:
                    holds.confirm_hold(session, service, who, hold.id)
                confirmed += 1
            except DomainError:
                continue
            hold_ms.append((time.perf_counter() - t0) * 1000)

        timings = {}
        for name, dry_run in (("re-import (sync)", False), ("dry run", True)):
            start = time.perf_counter()
            with session_scope(sessions) as session:
                report = data.import_dataset(session, ds, dry_run=dry_run)
            timings[name] = time.perf_counter() - start
        service.close()
        engine.dispose()

    rows = [["first import (baseline)", f"{first:.2f}", "1.00x"]]
    rows += [[name, f"{t:.2f}", f"{t / first:.2f}x"] for name, t in timings.items()]
    print_table(
        f"import of {len(ds.children)} children, {len(ds.families)} families, "
        f"{len(ds.institutions)} institutions into SQLite; {confirmed} placements and the "
        "audit trail of the service kept",
        ["run", "seconds", "vs first import"],
        rows,
    )
    if hold_ms and check_ms:
        p50_hold, p50_check = percentile(hold_ms, 50), percentile(check_ms, 50)
        print_table(
            f"hold + confirm of {len(hold_ms)} children through the use cases (two transactions)",
            ["what", "p50 ms", "p99 ms", "vs evaluate_option"],
            [
                [
                    "evaluate_option (baseline)",
                    f"{p50_check:.2f}",
                    f"{percentile(check_ms, 99):.2f}",
                    "1x",
                ],
                [
                    "hold + confirm",
                    f"{p50_hold:.2f}",
                    f"{percentile(hold_ms, 99):.2f}",
                    f"{p50_hold / p50_check:.0f}x",
                ],
            ],
        )
    console.print(f"kept placements not in the files: {report.kept_placements}")
