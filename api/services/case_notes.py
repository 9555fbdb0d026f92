"""Notes on a child's case written by its coordinator: the child's and the parents' views
(Barnets Lov § 46-47, the child's perspective) and the placement's purpose and expected
duration (for the written recommendation). Each save adds a dated note, so the views heard
earlier stay on the case; the newest of each kind is the one shown. Audited."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.db.orm import ApiKey, CaseNote
from api.services.caller import Principal
from api.services.children import own_child
from api.services.errors import Invalid
from api.services.runtime import Service, now

__all__ = ["NOTE_KINDS", "key_labels", "latest_notes", "notes_of", "save_notes"]

# The kinds of note written through a form field of the same name.
NOTE_KINDS = ("child_view", "parent_view", "purpose", "duration")
MAX_NOTE = 4000


def latest_notes(session: Session, child_id: str) -> dict[str, str]:
    """The newest text of each kind of note on the child's case (kinds without a note are
    left out). The caller has checked that the child is theirs."""
    found: dict[str, str] = {}
    for note in session.scalars(
        select(CaseNote)
        .where(CaseNote.child_id == child_id, CaseNote.kind.in_(NOTE_KINDS))
        .order_by(CaseNote.id.desc())
    ):
        found.setdefault(note.kind, note.text)
    return found


def notes_of(session: Session, child_id: str, kind: str) -> list[CaseNote]:
    """Every note of one kind on the child's case, newest first."""
    return list(
        session.scalars(
            select(CaseNote)
            .where(CaseNote.child_id == child_id, CaseNote.kind == kind)
            .order_by(CaseNote.id.desc())
        )
    )


def save_notes(
    session: Session, service: Service, who: Principal, child_id: str, texts: dict[str, str]
) -> list[str]:
    """Add a note for each kind whose text differs from the newest one; the kinds saved."""
    own_child(session, who, child_id)
    errors = [
        {"path": f"body.{kind}", "value": kind, "allowed": f"a known note kind {NOTE_KINDS}"}
        for kind in texts
        if kind not in NOTE_KINDS
    ] + [
        {"path": f"body.{kind}", "value": len(text), "allowed": f"at most {MAX_NOTE} characters"}
        for kind, text in texts.items()
        if len(text) > MAX_NOTE
    ]
    if errors:
        raise Invalid("the notes are not valid", errors=errors)
    current = latest_notes(session, child_id)
    saved = [kind for kind, text in texts.items() if text.strip() != current.get(kind, "").strip()]
    moment = now()
    for kind in saved:
        session.add(
            CaseNote(
                child_id=child_id,
                kind=kind,
                text=texts[kind].strip(),
                with_whom="",
                created_at=moment,
                created_by=who.key_id,
            )
        )
    if saved:
        session.flush()
        # The audit names the kinds only: a note's text is the child's details.
        service.audit(session, who, "child.notes", child_id, " ".join(saved))
    return saved


def key_labels(session: Session, key_ids: set[int]) -> dict[int, str]:
    """The label of each API key (the caseworker's name for it), for "who holds it"; a key
    without a label is named by its number."""
    rows: list[ApiKey] = (
        list(session.scalars(select(ApiKey).where(ApiKey.id.in_(sorted(key_ids)))))
        if key_ids
        else []
    )
    found = {row.id: row.label or f"nøgle {row.id}" for row in rows}
    return {k: found.get(k, "kommandolinjen" if k == 0 else f"nøgle {k}") for k in key_ids}
