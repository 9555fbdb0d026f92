"""The `placement` command line: generate, rank, match and more, over the same core.

Machine-readable output is JSON on stdout (`--format json`); human output is a table.
Exit 0 on success, 2 on bad input with a message naming file, row and column.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from geo.gazetteer import Gazetteer, GeodataError, default_gazetteer
from matcher.policy import AUTO, PolicyError, load_policy_set
from matcher.rank import Matcher, Ranking, UnknownChild
from models.dataset import Dataset, load_dataset, write_dataset
from models.errors import DatasetError
from models.synthetic import REFERENCE_DATE, SyntheticSpec, generate_dataset

__all__ = ["app", "main"]

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Placement matching for Danish child welfare: least intrusive, close to everyday life.",
)
err = Console(stderr=True, soft_wrap=True)
# Piped output (CI logs, `| less`) gets a wide table instead of 80 squeezed columns.
out = Console(width=None if sys.stdout.isatty() else 200)

TIER_NAMES = {
    1: "1 netværk",
    2: "2 plejefamilie",
    3: "3 kombination",
    4: "4 institution",
}


class Format(StrEnum):
    table = "table"
    json = "json"


class InputError(Exception):
    """Bad input that is the user's to fix; printed without a stack trace, exit 2."""


def fail(message: str) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code=2)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn every error a user can fix into a clear message and exit code 2."""
    try:
        yield
    except DatasetError as exc:
        err.print(
            f"[bold red]error:[/] {len(exc.issues)} problem(s) in the dataset:", highlight=False
        )
        for issue in exc.issues:
            err.print(f"  - {issue}", highlight=False, markup=False)
        raise typer.Exit(code=2) from None
    except (GeodataError, PolicyError, InputError) as exc:
        fail(str(exc))
    except UnknownChild as exc:
        fail(f"no child with child_id {exc.args[0]!r} in the dataset")


def _gazetteer(geodata: Path | None) -> Gazetteer:
    return default_gazetteer(geodata)


def _load(data: Path, geodata: Path | None) -> Dataset:
    return load_dataset(data, _gazetteer(geodata))


def _parse_date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(f"{option} {value!r}: an ISO date YYYY-MM-DD is allowed") from None


DataOpt = Annotated[Path, typer.Option("--data", help="Dataset directory (CSV contract).")]
GeoOpt = Annotated[
    Path | None,
    typer.Option("--geodata", help="Geodata directory; default $PLACEMENT_GEODATA_DIR."),
]
FormatOpt = Annotated[Format, typer.Option("--format", help="table or json")]
PolicyOpt = Annotated[
    str,
    typer.Option(
        "--policy",
        help="Policy profile name or TOML path; auto: each child's acting kommune's profile.",
    ),
]
AsOfOpt = Annotated[
    str | None, typer.Option("--as-of", help="Date for vacancy staleness (default today).")
]


@app.command()
def generate(
    out_dir: Annotated[Path, typer.Option("--out", help="Directory to write the dataset to.")],
    children: Annotated[int, typer.Option("--children", min=0)] = 400,
    families: Annotated[int, typer.Option("--families", min=0)] = 600,
    institutions: Annotated[int, typer.Option("--institutions", min=0)] = 80,
    kommune: Annotated[
        list[str] | None, typer.Option("--kommune", help="Limit to these kommune codes.")
    ] = None,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Reference date for vacancy confirmations.")
    ] = None,
    placements: Annotated[
        bool,
        typer.Option("--placements", help="Also a placed child for every occupied place."),
    ] = False,
    geodata: GeoOpt = None,
) -> None:
    """Write a synthetic Denmark dataset, deterministic by seed."""
    with user_errors():
        gaz = _gazetteer(geodata)
        codes = tuple(kommune or ())
        unknown = [k for k in codes if not gaz.has_kommune(k)]
        if unknown:
            raise InputError(
                f"--kommune {', '.join(unknown)}: a kommune code from "
                "dk_kommuner.csv is allowed (e.g. 860, 727, 167, 707)"
            )
        schools = gaz.schools.frame
        schools = schools[schools["kommune_code"].astype(str).map(gaz.has_kommune)]
        spec = SyntheticSpec(
            children,
            families,
            institutions,
            seed,
            codes,
            _parse_date(as_of, "--as-of") or REFERENCE_DATE,
            placements=placements,
        )
        try:
            dataset = generate_dataset(spec, schools)
        except ValueError as exc:
            raise InputError(str(exc)) from None
        write_dataset(dataset, out_dir)
    err.print(
        f"wrote {len(dataset.children)} children, {len(dataset.network)} network rows, "
        f"{len(dataset.families)} families, {len(dataset.institutions)} institutions, "
        f"{len(dataset.placements)} placements to {out_dir}",
        highlight=False,
    )


def render_ranking(ranking: Ranking, why_not: bool, console: Console = out) -> None:
    who = (
        ranking.child_id
        if not ranking.sibling_group
        else (f"sibling group {ranking.sibling_group} ({', '.join(ranking.children)})")
    )
    console.print(
        f"[bold]Proposals for {who}[/] — policy {ranking.policy}, "
        f"as of {ranking.as_of}, {ranking.eligible} eligible",
        highlight=False,
    )
    table = Table(show_lines=False)
    for column in (
        "#",
        "tier",
        "option",
        "what",
        "score",
        "school km",
        "daycare km",
        "home km",
        "free",
        "warnings",
        "terms",
    ):
        table.add_column(column, justify="right" if column.endswith("km") else "left")
    for p in ranking.proposals:
        km = p.distance_km
        table.add_row(
            str(p.rank),
            TIER_NAMES[p.tier],
            p.option_id,
            p.label,
            f"{p.score:.2f}",
            *("-" if km[k] is None else f"{km[k]:.1f}" for k in ("school", "daycare", "home")),
            str(p.free_places),
            ", ".join(p.warnings) or "-",
            ", ".join(f"{k} {v:+.2f}" for k, v in p.terms.items() if v),
        )
    console.print(table)
    if not ranking.proposals:
        console.print("No eligible option: see the reasons below.")
    reasons = ", ".join(f"{k} {v}" for k, v in ranking.excluded.items()) or "none"
    console.print(f"Excluded by reason: {reasons}", highlight=False)
    if why_not and ranking.excluded_options is not None:
        why = Table(title="Why not")
        for column in ("option", "kind", "reasons"):
            why.add_column(column)
        for row in ranking.excluded_options:
            why.add_row(row["option_id"], row["kind"], ", ".join(row["reasons"]))
        console.print(why)


@app.command()
def rank(
    data: DataOpt,
    child: Annotated[str, typer.Option("--child", help="child_id to rank options for.")],
    top: Annotated[int, typer.Option("--top", min=1, help="How many proposals.")] = 10,
    why_not: Annotated[
        bool, typer.Option("--why-not", help="List every excluded option with its reasons.")
    ] = False,
    fmt: FormatOpt = Format.table,
    policy: PolicyOpt = AUTO,
    as_of: AsOfOpt = None,
    geodata: GeoOpt = None,
) -> None:
    """Ranked placement proposals for one child, with reasons and why-not."""
    with user_errors():
        dataset = _load(data, geodata)
        matcher = Matcher(dataset, load_policy_set(policy))
        ranking = matcher.rank(child, top=top, why_not=why_not, as_of=_parse_date(as_of, "--as-of"))
    if fmt is Format.json:
        emit_json(ranking.as_dict())
    else:
        render_ranking(ranking, why_not)


class Solver(StrEnum):
    auto = "auto"
    flow = "flow"
    cpsat = "cpsat"
    greedy = "greedy"


@app.command()
def match(
    data: DataOpt,
    children: Annotated[
        list[str] | None, typer.Option("--children", help="Child ids of the cohort.")
    ] = None,
    kommune: Annotated[
        list[str] | None, typer.Option("--kommune", help="Kommune codes of the cohort.")
    ] = None,
    solver: Annotated[Solver, typer.Option("--solver")] = Solver.auto,
    time_limit: Annotated[
        float | None, typer.Option("--time-limit", min=0.1, help="Seconds for the solver.")
    ] = None,
    allow_sibling_split: Annotated[
        bool,
        typer.Option(
            "--allow-sibling-split",
            help="Let a sibling group be split, at a strong penalty (§ 52(3)).",
        ),
    ] = False,
    workers: Annotated[int, typer.Option("--workers", min=1, help="CP-SAT workers.")] = 1,
    fmt: FormatOpt = Format.table,
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Also write the JSON result to this file.")
    ] = None,
    policy: PolicyOpt = AUTO,
    as_of: AsOfOpt = None,
    geodata: GeoOpt = None,
) -> None:
    """Optimal batch matching of a cohort to the region's capacity."""
    from matcher.cohort import run_match

    with user_errors():
        dataset = _load(data, geodata)
        matcher = Matcher(dataset, load_policy_set(policy))
        unknown = [
            k for k in kommune or () if not any(c.kommune_code == k for c in dataset.children)
        ]
        if unknown:
            raise InputError(
                f"--kommune {', '.join(unknown)}: no child of the dataset acts in that kommune"
            )
        if solver is Solver.flow and (allow_sibling_split or dataset.sibling_groups):
            raise InputError(
                "--solver flow needs every child to take one place alone; the "
                "dataset has sibling groups: use --solver cpsat or auto"
            )
        try:
            result = run_match(
                matcher,
                children=children,
                kommuner=kommune,
                solver=solver.value,
                time_limit=time_limit,
                as_of=_parse_date(as_of, "--as-of"),
                allow_sibling_split=allow_sibling_split,
                workers=workers,
            )
        except KeyError as exc:
            raise InputError(f"--children {exc.args[0]}: not a child_id of the dataset") from None
    payload = result.as_dict()
    if out_file is not None:
        save_json(payload, out_file)
    if fmt is Format.json:
        emit_json(payload)
    else:
        render_match(payload)


def render_match(payload: dict[str, Any], console: Console = out) -> None:
    obj = payload["objective"]
    console.print(
        f"[bold]{payload['status']}[/] by {payload['solver']} in {payload['seconds']:.2f} s — "
        f"placed {obj['placed']}, tier 1 {obj['tier1']}, tier 2 {obj['tier2']}, "
        f"tier 3 {obj['tier3']}, score {obj['score']:.2f}, "
        f"gap {'unknown' if payload['gap'] is None else format(payload['gap'], '.4%')}",
        highlight=False,
    )
    for note in payload["notes"]:
        console.print(f"  note: {note}", highlight=False)
    kpis = Table(title="KPIs")
    kpis.add_column("KPI")
    kpis.add_column("value")
    for key, value in payload["kpis"].items():
        kpis.add_row(key, json.dumps(value, ensure_ascii=False))
    console.print(kpis)
    console.print(
        f"{len(payload['assignments'])} children assigned, "
        f"{len(payload['unassigned'])} unassigned (see --format json or --out)."
    )


DbOpt = Annotated[
    str | None,
    typer.Option(
        "--database",
        help="Database URL; default $PLACEMENT_DATABASE_URL "
        "or the SQLite file var/placement.sqlite3.",
    ),
]
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")


def _engine(database: str | None) -> Any:
    from api.db import make_engine
    from api.migrate import upgrade

    engine = make_engine(database)
    upgrade(engine)
    return engine


@db_app.command("upgrade")
def db_upgrade(database: DbOpt = None) -> None:
    """Create or migrate the database schema (Alembic)."""
    engine = _engine(database)
    err.print(f"database at {engine.url.render_as_string(hide_password=True)} is up to date")


@app.command("import")
def import_(data: DataOpt, database: DbOpt = None, geodata: GeoOpt = None) -> None:
    """Load a dataset (validated as for `rank`) into the database in one transaction."""
    from sqlalchemy.orm import sessionmaker

    from api.db import session_scope
    from api.service import Service
    from api.store import replace_all

    with user_errors():
        dataset = _load(data, geodata)
        engine = _engine(database)
        with session_scope(sessionmaker(engine)) as session:
            replace_all(session, dataset)
            Service.bump(session, "structure", "capacity")
    err.print(
        f"imported {len(dataset.children)} children, {len(dataset.families)} families, "
        f"{len(dataset.institutions)} institutions, {len(dataset.placements)} placements",
        highlight=False,
    )


@app.command("export")
def export(
    out_dir: Annotated[Path, typer.Option("--out", help="Directory to write the dataset to.")],
    database: DbOpt = None,
) -> None:
    """Write the database back as a dataset of the CSV contract."""
    from sqlalchemy.orm import sessionmaker

    from api.db import session_scope
    from api.store import load_from_db, placements_tracked

    engine = _engine(database)
    with session_scope(sessionmaker(engine)) as session:
        dataset = load_from_db(session)
        if not placements_tracked(session):
            dataset = replace(dataset, placements=())
    write_dataset(dataset, out_dir)
    err.print(f"exported {len(dataset.children)} children to {out_dir}", highlight=False)


@keys_app.command("create")
def keys_create(
    role: Annotated[str, typer.Option("--role", help="coordinator, consultant, planner, admin")],
    kommune: Annotated[list[str] | None, typer.Option("--kommune")] = None,
    label: Annotated[str, typer.Option("--label")] = "",
    database: DbOpt = None,
) -> None:
    """Create an API key; it is printed once and stored only as a hash."""
    from sqlalchemy.orm import sessionmaker

    from api.db import session_scope
    from api.security import Role, create_key

    with user_errors():
        try:
            chosen = Role(role)
        except ValueError:
            raise InputError(
                f"--role {role!r}: one of coordinator, consultant, planner, admin"
            ) from None
        engine = _engine(database)
        with session_scope(sessionmaker(engine)) as session:
            key = create_key(session, chosen, list(kommune or ()), label)
    sys.stdout.write(key + "\n")


@app.command()
def serve(
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8000,
    database: DbOpt = None,
    policy: PolicyOpt = AUTO,
    geodata: GeoOpt = None,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=1,
            help="Worker processes (one per core serves about twice the requests on 2 cores).",
        ),
    ] = 1,
) -> None:
    """Serve the HTTP API (OpenAPI docs at /docs) on the database as it is."""
    import uvicorn

    from api.app import POLICY_ENV, create_app
    from api.db import DATABASE_ENV, database_url
    from api.service import Service
    from geo.gazetteer import GEODATA_ENV

    with user_errors():
        service = Service(_engine(database), _gazetteer(geodata), load_policy_set(policy))
    if workers == 1:
        uvicorn.run(create_app(service), host=host, port=port, log_level="warning")
        return
    # Workers rebuild the service from the environment; jobs a previous server left running
    # are failed here, once, before any worker can start one.
    service.fail_interrupted_jobs()
    service.close()
    os.environ[DATABASE_ENV] = database_url(database)
    os.environ[POLICY_ENV] = policy
    if geodata is not None:
        os.environ[GEODATA_ENV] = str(geodata)
    uvicorn.run(
        "api.app:app_from_environment",
        factory=True,
        workers=workers,
        host=host,
        port=port,
        log_level="warning",
    )


@app.command()
def policies(
    name: Annotated[
        str | None, typer.Argument(help="Show this profile with the source of each setting.")
    ] = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """List the policy profiles, or show one with the passage each setting comes from."""
    from api.report import flatten
    from matcher.policy import list_policies, load_policy, policy_sources

    with user_errors():
        if name is None:
            rows = [load_policy(p.stem) for p in list_policies()]
            if fmt is Format.json:
                emit_json({"policies": [_policy_summary(p) for p in rows]})
                return
            table = Table(title="Policy profiles (a child's acting kommune selects its profile)")
            for column in ("name", "kommune", "description"):
                table.add_column(column)
            for p in rows:
                table.add_row(p.name, p.kommune or "(all others)", p.description)
            out.print(table)
            return
        policy = load_policy(name)
        sources = policy_sources(name)
    if fmt is Format.json:
        emit_json({**policy.as_dict(), "sources": sources})
        return
    out.print(f"[bold]{policy.name}[/] — {policy.description}", highlight=False)
    table = Table(show_lines=False)
    for column in ("setting", "value", "source"):
        table.add_column(column, overflow="fold")
    default_sources = policy_sources("default")
    for key, value in flatten(policy.as_dict()).items():
        if key in ("name", "description", "kommune_code"):
            continue
        source = sources.get(key)
        table.add_row(
            key,
            str(value),
            source if source is not None else f"(inherits default) {default_sources.get(key, '')}",
        )
    out.print(table)


def _policy_summary(p: Any) -> dict[str, Any]:
    return {"name": p.name, "kommune_code": p.kommune, "description": p.description}


@app.command()
def review(
    data: DataOpt,
    as_of: Annotated[str, typer.Option("--as-of", help="Review date, YYYY-MM-DD.")],
    kommune: Annotated[
        list[str] | None, typer.Option("--kommune", help="Children acting in these kommuner.")
    ] = None,
    child: Annotated[list[str] | None, typer.Option("--child", help="These children.")] = None,
    top: Annotated[int, typer.Option("--top", min=1, help="Step-down proposals each.")] = 3,
    policy: PolicyOpt = AUTO,
    fmt: FormatOpt = Format.table,
    geodata: GeoOpt = None,
) -> None:
    """Follow-ups due and step-down proposals for every active placement."""
    from matcher.review import review as run_review

    with user_errors():
        dataset = _load(data, geodata)
        day = _parse_date(as_of, "--as-of")
        assert day is not None
        unknown = [c for c in child or () if c not in dataset.active_placement]
        if unknown:
            raise InputError(f"--child {unknown[0]}: no active placement in placements.csv")
        matcher = Matcher(dataset, load_policy_set(policy))
        payload = run_review(matcher, day, kommune, child, top)
    if fmt is Format.json:
        emit_json(payload)
    else:
        render_review(payload)


def render_review(payload: dict[str, Any], console: Console = out) -> None:
    s = payload["summary"]
    console.print(
        f"[bold]Review {payload['as_of']}[/]: {s['active']} active placements — follow-ups "
        f"overdue {s['follow_ups_overdue']}, due {s['follow_ups_due']}; step-down review "
        f"reached {s['reviews_reached']} (with proposal {s['with_proposal']}, without "
        f"{s['without_proposal']})",
        highlight=False,
    )
    table = Table()
    for column in (
        "child",
        "placement",
        "since",
        "months",
        "policy",
        "follow-up",
        "next",
        "step-down",
    ):
        table.add_column(column)
    for r in payload["placements"]:
        fu = r["follow_up"]
        st = r["step_down"]
        if not st["reached"]:
            step = f"review {st['review_date']}" if st["review_date"] else "-"
        elif st["proposals"]:
            p = st["proposals"][0]
            kept = p["changes"].get("school_kept")
            step = (
                f"{p['kind']} {p['option_id']} ({len(st['proposals'])} proposals; school "
                f"{'kept' if kept else 'changes' if kept is False else 'n/a'})"
            )
        else:
            step = st["reason"] + (
                " (" + ", ".join(f"{k} {v}" for k, v in list(st["excluded"].items())[:3]) + ")"
                if st["excluded"]
                else ""
            )
        status = fu["status"] + (f" ({len(fu['overdue'])} missed)" if fu["overdue"] else "")
        table.add_row(
            r["child_id"],
            f"{r['kind']} {r['option_id']}",
            r["start_date"],
            str(r["months_in_placement"]),
            r["policy"],
            status,
            fu["next"],
            step,
        )
    console.print(table)


@app.command()
def simulate(
    data: DataOpt,
    months: Annotated[int, typer.Option("--months", min=1, max=120)] = 12,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    start: Annotated[
        str | None, typer.Option("--start", help="First month, YYYY-MM-DD; default today.")
    ] = None,
    arrivals: Annotated[
        int | None,
        typer.Option("--arrivals", min=0, help="Children arriving a month; default backlog/12."),
    ] = None,
    accept: Annotated[
        float, typer.Option("--accept", min=0.0, max=1.0, help="P(step-down accepted).")
    ] = 0.5,
    end: Annotated[
        float, typer.Option("--end", min=0.0, max=1.0, help="Monthly P(a placement ends).")
    ] = 0.02,
    policy: PolicyOpt = AUTO,
    fmt: FormatOpt = Format.table,
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Also write the JSON result to this file.")
    ] = None,
    geodata: GeoOpt = None,
) -> None:
    """Simulate months of arrivals, matching, step-downs and endings (deterministic by seed)."""
    from matcher.simulate import SimulationParams
    from matcher.simulate import simulate as run_simulation

    with user_errors():
        dataset = _load(data, geodata)
        first = _parse_date(start, "--start") or date.today()
        payload = run_simulation(
            dataset,
            load_policy_set(policy),
            first,
            SimulationParams(months, seed, arrivals, accept, end),
        )
    if out_file is not None:
        save_json(payload, out_file)
    if fmt is Format.json:
        emit_json(payload)
        return
    table = Table(title=f"Simulation from {payload['start']}, seed {seed}, policy {policy}")
    for column in (
        "month",
        "arrived",
        "placed net/fos/comb/inst",
        "stepped down",
        "went home",
        "active net/fos/comb/inst",
        "waiting",
        "follow-ups due",
        "inst. stepped down in window",
    ):
        table.add_column(column, justify="right")
    for m in payload["months"]:
        share = m["institution_stepped_down_share"]
        table.add_row(
            m["date"],
            str(m["arrived"]),
            "/".join(str(v) for v in m["placed"].values()),
            str(m["stepped_down"]),
            str(m["went_home"]),
            "/".join(str(v) for v in m["active_by_kind"].values()),
            str(m["waiting"]),
            str(m["follow_ups_due"]),
            "" if share is None else f"{share:.1%}",
        )
    out.print(table)


class Engine(StrEnum):
    local = "local"
    dask = "dask"


@app.command()
def whatif(
    file: Annotated[Path, typer.Argument(help="Scenario file (TOML).")],
    out_dir: Annotated[
        Path, typer.Option("--out", help="Report directory (kpis.csv, report.md, report.html).")
    ] = Path("whatif-report"),
    workers: Annotated[int, typer.Option("--workers", min=1, help="Parallel scenarios.")] = 2,
    engine: Annotated[Engine, typer.Option("--engine", help="local or dask")] = Engine.local,
    scheduler: Annotated[
        str | None,
        typer.Option("--scheduler", help="Dask scheduler address; default: a local cluster."),
    ] = None,
    fmt: FormatOpt = Format.table,
    geodata: GeoOpt = None,
) -> None:
    """Run what-if scenarios against a base dataset; write a KPI report with charts."""
    from api import whatif as runner
    from api.report import write_report
    from matcher.scenario import ScenarioError, load_scenarios

    if scheduler and engine is not Engine.dask:
        fail("--scheduler needs --engine dask")
    try:
        with user_errors():
            spec = load_scenarios(file)
            geo = runner.geodata_dir(geodata)
            runner.check(spec, geo)
            with runner.executor(engine.value, workers, scheduler) as pool:
                outcomes = runner.run(spec, geo, pool, err if fmt is Format.table else None)
    except ScenarioError as exc:
        err.print(f"[bold red]error:[/] {len(exc.issues)} problem(s):", highlight=False)
        for issue in exc.issues:
            err.print(f"  - {issue}", highlight=False, markup=False)
        raise typer.Exit(code=2) from None
    except runner.EngineError as exc:
        fail(str(exc))
    written = write_report(outcomes, out_dir, title=f"What-if: {file.name}")
    if fmt is Format.json:
        emit_json(
            {
                "file": str(file),
                "out": str(out_dir),
                "scenarios": [o.as_dict() for o in outcomes],
                "written": [str(p) for p in written],
            }
        )
    else:
        runner.render_summary(outcomes, out)
        out.print(f"report: {out_dir / 'report.html'} (also report.md, kpis.csv, assignments/)")
    if any(not o.ok for o in outcomes):
        raise typer.Exit(code=1)


def save_json(payload: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, ensure_ascii=False, indent=2), encoding="utf-8")


def emit_json(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover
        err.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":  # pragma: no cover
    main()
