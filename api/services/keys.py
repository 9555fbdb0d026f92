"""Bearer API keys: stored as SHA-256 hashes, each with a role and a set of kommune codes.

Every key is kommune-scoped, admin keys too: an admin key administers only its kommuner. It
lists, mints and revokes keys whose kommuner all lie within its own, and reads the audit rows
of its kommuner (`api.services.audit`). A *national* admin key has no kommuner and administers
every kommune; it is made only on the command line (`placement keys create --role admin
--national`): the HTTP API never mints a national key, nor a key wider than its caller's.

Making and revoking a key is audited (child_id None; `detail` names the key's kommuner, see
`api.services.audit.scope_detail`). On the command line the audit row has key_id None and role
`cli`. Authentication reads the database on every request, so a revoked key is refused by
every worker at once (over HTTP, one indexed row on the driver's connection:
`api.services.runtime.Service.principal`)."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from api.db.orm import ApiKey, AuditEntry, UiSession
from api.services.audit import CLI_ROLE, is_national, scope_detail
from api.services.caller import Principal, Role
from api.services.errors import Forbidden, Invalid, NotFound
from api.services.inputs import KeyCreate
from models.dataset import PlaceResolver

__all__ = [
    "KOMMUNE_ALLOWED",
    "authenticate",
    "create_key",
    "hash_key",
    "is_national",
    "issue_key",
    "key_fields",
    "key_kommuner",
    "list_keys",
    "make_key",
    "mint_key",
    "revoke_key",
    "unknown_kommuner",
]

KOMMUNE_ALLOWED = (
    "a 3-digit kommune code of Denmark (the 98 of dk_kommuner.csv), such as 101 København, "
    "751 Aarhus or 860 Hjørring"
)
_CODE = re.compile(r"^[0-9]{3}$")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def key_kommuner(row: ApiKey) -> frozenset[str]:
    return frozenset(k for k in row.kommuner.split(";") if k)


def key_fields(row: ApiKey) -> dict[str, Any]:
    """What may be shown of a key (never its hash): id, role, kommuner, label, created_at,
    revoked, revoked_at."""
    return {
        "id": row.id,
        "role": row.role,
        "kommuner": sorted(key_kommuner(row)),
        "label": row.label,
        "created_at": row.created_at,
        "revoked": row.revoked,
        "revoked_at": row.revoked_at,
    }


def _within(kommuner: frozenset[str], who: Principal | None) -> bool:
    """Whether a key of these kommuner lies within the caller's scope (None: the command
    line, which administers every key). A national key lies within a national admin's only."""
    if who is None or is_national(who):
        return True
    return bool(kommuner) and kommuner <= who.kommuner


def unknown_kommuner(
    places: PlaceResolver, codes: Sequence[str], path: str = "body.kommuner"
) -> list[dict[str, Any]]:
    """One error per code that is not a kommune of Denmark, `path[i]` naming it."""
    return [
        {"path": f"{path}[{i}]", "value": code, "allowed": KOMMUNE_ALLOWED}
        for i, code in enumerate(codes)
        if not _CODE.match(code) or not places.has_kommune(code)
    ]


def _audit(session: Session, who: Principal | None, action: str, detail: str) -> None:
    session.add(
        AuditEntry(
            at=datetime.now(UTC),
            key_id=None if who is None else who.key_id,
            role=CLI_ROLE if who is None else who.role.value,
            action=action,
            child_id=None,
            detail=detail,
        )
    )


def _key_detail(row: ApiKey) -> str:
    return scope_detail(key_kommuner(row), f"key={row.id} role={row.role}")


def mint_key(
    session: Session,
    role: Role,
    kommuner: Sequence[str],
    label: str = "",
    created_by: int | None = None,
) -> tuple[ApiKey, str]:
    """A new key's row and its clear text, shown once; only its hash is stored. No checks and
    no audit: the use cases `issue_key` (HTTP) and `make_key` (command line) do both."""
    key = "pk_" + secrets.token_urlsafe(32)
    row = ApiKey(
        key_hash=hash_key(key),
        role=role.value,
        kommuner=";".join(sorted(set(kommuner))),
        label=label,
        created_at=datetime.now(UTC),
        revoked=False,
        created_by=created_by,
    )
    session.add(row)
    session.flush()
    return row, key


def create_key(session: Session, role: Role, kommuner: list[str], label: str = "") -> str:
    """A new key in clear text (for the demo, tests and benchmarks that need only the text)."""
    return mint_key(session, role, kommuner, label)[1]


def issue_key(
    session: Session, places: PlaceResolver, who: Principal, body: KeyCreate
) -> tuple[ApiKey, str]:
    """A key minted by an admin over HTTP: real kommune codes (Invalid naming each
    `body.kommuner[i]`), at least one, and all within the caller's kommuner (Forbidden naming
    the others). A national key (an admin without kommuner) is never minted here."""
    errors = unknown_kommuner(places, body.kommuner)
    if errors:
        codes = ", ".join(str(e["value"]) for e in errors)
        raise Invalid(f"unknown kommune codes: {codes}", errors=errors)
    if not body.kommuner:
        national = body.role == Role.ADMIN.value
        message = (
            "a national admin key (no kommuner) is made only on the command line: "
            "placement keys create --role admin --national"
            if national
            else "a key needs at least one kommune"
        )
        error = {"path": "body.kommuner", "value": [], "allowed": "one or more kommune codes"}
        raise (Forbidden(message, errors=[error]) if national else Invalid(message, [error]))
    if not is_national(who):
        outside = [
            {"path": f"body.kommuner[{i}]", "value": code, "allowed": sorted(who.kommuner)}
            for i, code in enumerate(body.kommuner)
            if code not in who.kommuner
        ]
        if outside:
            codes = ", ".join(sorted({str(e["value"]) for e in outside}))
            raise Forbidden(
                f"you may not give kommuner {codes}: an admin key makes keys only within its "
                f"own kommuner ({', '.join(sorted(who.kommuner))})",
                errors=outside,
            )
    row, key = mint_key(session, Role(body.role), body.kommuner, body.label, who.key_id)
    _audit(session, who, "key.create", _key_detail(row))
    return row, key


def make_key(
    session: Session,
    places: PlaceResolver,
    role: Role,
    kommuner: Sequence[str],
    label: str = "",
    national: bool = False,
) -> tuple[ApiKey, str]:
    """A key made on the command line (audited with key_id None, role `cli`): real kommune
    codes, at least one, or none for a national admin key (`national`, admins only)."""
    unknown = [str(e["value"]) for e in unknown_kommuner(places, kommuner)]
    if unknown:
        raise Invalid(f"--kommune {', '.join(unknown)}: {KOMMUNE_ALLOWED} is allowed")
    if national and (role is not Role.ADMIN or kommuner):
        raise Invalid(
            "--national makes an admin key for every kommune: it takes --role admin and "
            "no --kommune"
        )
    if not national and not kommuner:
        hint = " (or --national for an admin of every kommune)" if role is Role.ADMIN else ""
        raise Invalid(f"a key needs at least one --kommune{hint}")
    row, key = mint_key(session, role, kommuner, label)
    _audit(session, None, "key.create", _key_detail(row))
    return row, key


def authenticate(session: Session, key: str) -> Principal | None:
    row = session.scalars(select(ApiKey).where(ApiKey.key_hash == hash_key(key))).first()
    if row is None or row.revoked:
        return None
    return Principal(row.id, Role(row.role), key_kommuner(row))


def list_keys(session: Session, who: Principal | None = None) -> list[ApiKey]:
    """The keys within the caller's kommuner (None: the command line, every key)."""
    rows = session.scalars(select(ApiKey).order_by(ApiKey.id))
    return [row for row in rows if _within(key_kommuner(row), who)]


def revoke_key(session: Session, who: Principal | None, key_id: int) -> tuple[ApiKey, bool]:
    """Revoke a key within the caller's kommuner (NotFound alike for a missing id and a key
    outside them): the key and whether this call revoked it. Revoking a revoked key changes
    nothing and is no error (idempotent, not audited again). An admin may revoke its own key.
    The key's web sessions end with it."""
    row = session.get(ApiKey, key_id)
    if row is None or not _within(key_kommuner(row), who):
        raise NotFound(f"no key {key_id}" + ("" if who is None else " in your kommuner"))
    if row.revoked:
        return row, False
    row.revoked = True
    row.revoked_at = datetime.now(UTC)
    row.revoked_by = None if who is None else who.key_id
    session.execute(delete(UiSession).where(UiSession.key_id == row.id))
    _audit(session, who, "key.revoke", _key_detail(row))
    session.flush()
    return row, True
