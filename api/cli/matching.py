"""`placement generate`, `rank` and `match`: synthetic data, one child's proposals, the
batch optimum."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from api.cli.common import (
    AsOfOpt,
    DataOpt,
    Format,
    FormatOpt,
    GeoOpt,
    InputError,
    PolicyOpt,
    app,
    emit_json,
    err,
    gazetteer,
    load,
    out,
    parse_date,
    save_json,
    user_errors,
)
from api.cli.render import render_match, render_ranking
from matcher.policy import AUTO, load_policy_set
from models.enums import Solver

__all__ = ["generate", "match", "rank"]


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
    from api.cli.snapshot import read_back
    from models.dataset import write_dataset
    from models.synthetic import REFERENCE_DATE, SyntheticSpec, generate_dataset

    with user_errors():
        gaz = gazetteer(geodata)
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
            parse_date(as_of, "--as-of") or REFERENCE_DATE,
            placements=placements,
        )
        try:
            dataset = generate_dataset(spec, schools)
        except ValueError as exc:
            raise InputError(str(exc)) from None
        write_dataset(dataset, out_dir)
        # The next command (`rank`, `match`) finds the snapshot of these files: they are read
        # back once now (nationally 0.6-0.8 s more here), not in the background after the
        # answer, where a command started right after parsed them beside the writer.
        read_back(lambda: load(out_dir, geodata))
    err.print(
        f"wrote {len(dataset.children)} children, {len(dataset.network)} network rows, "
        f"{len(dataset.families)} families, {len(dataset.institutions)} institutions, "
        f"{len(dataset.placements)} placements to {out_dir}",
        highlight=False,
    )


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
    from matcher.rank import Matcher

    with user_errors():
        dataset = load(data, geodata)
        matcher = Matcher(dataset, load_policy_set(policy))
        ranking = matcher.rank(child, top=top, why_not=why_not, as_of=parse_date(as_of, "--as-of"))
    if fmt is Format.json:
        emit_json(ranking.as_dict())
    else:
        render_ranking(ranking, why_not)


@app.command()
def match(
    data: DataOpt,
    children: Annotated[
        list[str] | None, typer.Option("--children", help="Child ids of the cohort.")
    ] = None,
    kommune: Annotated[
        list[str] | None, typer.Option("--kommune", help="Kommune codes of the cohort.")
    ] = None,
    solver: Annotated[Solver, typer.Option("--solver")] = Solver.AUTO,
    time_limit: Annotated[
        float | None, typer.Option("--time-limit", min=0.1, help="Seconds for the solver.")
    ] = None,
    allow_sibling_split: Annotated[
        bool,
        typer.Option(
            "--allow-sibling-split",
            help="Let a sibling group be split where that places more of the children "
            "(§ 52(3)); groups that can be kept together stay together.",
        ),
    ] = False,
    explain: Annotated[
        bool,
        typer.Option(
            "--explain",
            help="For every child not given its first-ranked option: that option, who holds "
            "it, and the objective's change if forced (one exact re-solve per option).",
        ),
    ] = False,
    explain_child: Annotated[
        list[str] | None,
        typer.Option(
            "--explain-child",
            help="Explain only these children (repeatable); implies --explain. Each "
            "explained first choice costs one re-solve, so name children on a large cohort.",
        ),
    ] = None,
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
    from matcher.rank import Matcher

    with user_errors():
        dataset = load(data, geodata)
        matcher = Matcher(dataset, load_policy_set(policy))
        unknown = [
            k for k in kommune or () if not any(c.kommune_code == k for c in dataset.children)
        ]
        if unknown:
            raise InputError(
                f"--kommune {', '.join(unknown)}: no child of the dataset acts in that kommune"
            )
        strangers = [c for c in explain_child or () if c not in dataset.child_by_id]
        if strangers:
            raise InputError(f"--explain-child {strangers[0]}: not a child_id of the dataset")
        if solver is Solver.FLOW and (allow_sibling_split or dataset.sibling_groups):
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
                as_of=parse_date(as_of, "--as-of"),
                allow_sibling_split=allow_sibling_split,
                workers=workers,
                explain_children=list(explain_child) if explain_child else explain,
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
        if explain or explain_child:
            _render_explanations(payload.get("explanations") or [])


def _render_explanations(rows: list[dict[str, Any]]) -> None:
    """The --explain table: one row per child not given its first-ranked option."""
    from rich.table import Table

    table = Table(title="Why not the first choice (cost if forced: forced minus optimum)")
    for column in ("child", "got", "first choice", "held by", "cost if forced", "exact"):
        table.add_column(column)
    for r in rows:
        got = r["assigned"]
        cost = r["cost_if_forced"]
        table.add_row(
            r["child_id"],
            "unplaced" if got is None else f"{got['option_id']} ({got['kind']})",
            f"{r['first_choice']['option_id']} ({r['first_choice']['kind']})",
            ", ".join(r["held_by"]) or "-",
            r["reason"] if cost is None else ", ".join(f"{k} {v:+g}" for k, v in cost.items()),
            "yes" if r["exact"] else "no",
        )
    out.print(table)
