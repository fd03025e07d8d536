"""Partner accounts: a role, an area (a set of zones) and a bearer token stored only as a hash.

A token is ``<account id>.<secret>``; the store keeps ``sha256(secret)``.  Checking a
token looks the account up by its id and compares the hashes with
``hmac.compare_digest`` (constant time), so neither the token nor a timing side channel
gives the secret away.  Removing an account makes its token worthless at once.

Roles:
- ``admin``: every zone, the access log, the live feed;
- ``dispatch``: every zone and the live alert feed;
- ``partner``: only the incidents and schools inside its zones.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from dashboard.store import DashboardStore
from salvo.errors import ConfigError

ROLES = ("admin", "dispatch", "partner")


@dataclass(frozen=True)
class Account:
    """A dashboard user.

    Attributes
    ----------
    id : int
    name : str
    role : str
        One of :data:`ROLES`.
    zones : tuple of str
        The area of a ``partner`` (zone names); empty for admin and dispatch (they see all).
    """

    id: int
    name: str
    role: str
    zones: tuple[str, ...]

    @property
    def sees_everything(self) -> bool:
        """Admin and dispatch see every zone."""
        return self.role in ("admin", "dispatch")


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def add_account(store: DashboardStore, name: str, role: str, zones: tuple[str, ...] = ()) -> tuple[Account, str]:
    """Create an account and return it with its token (shown once; only its hash is kept).

    Raises
    ------
    ConfigError
        On an unknown role, a partner without zones, a zone no stored zone set has, or a
        name already taken.
    """
    if role not in ROLES:
        raise ConfigError(f"role: {role!r} is not one of {', '.join(ROLES)}")
    if not name or len(name) > 100:
        raise ConfigError("name: must be 1..100 characters")
    zones = tuple(dict.fromkeys(z.strip() for z in zones if z.strip()))
    if role == "partner" and not zones:
        raise ConfigError("zones: a partner account needs at least one zone (its area)")
    known = {n for zs in store.zone_sets() for n, _ in store.zones(zs)}
    unknown = [z for z in zones if z not in known]
    if unknown:
        raise ConfigError(f"zones: {unknown[0]!r} is not a stored zone (import zones first)")
    secret = secrets.token_urlsafe(32)
    try:
        with store.db:
            cur = store.db.execute(
                "INSERT INTO accounts (name, role, token_sha256, created_ns) VALUES (?, ?, ?, ?)",
                (name, role, _hash(secret), time.time_ns()),
            )
            aid = int(cur.lastrowid)
            store.db.executemany("INSERT INTO account_zones (account_id, zone) VALUES (?, ?)", [(aid, z) for z in zones])
    except Exception as exc:
        if "UNIQUE" in str(exc):
            raise ConfigError(f"name: an account {name!r} exists already") from exc
        raise
    return Account(aid, name, role, zones if role == "partner" else ()), f"{aid}.{secret}"


def remove_account(store: DashboardStore, name: str) -> bool:
    """Delete an account (its token stops working at once); False when there was none."""
    with store.db:
        cur = store.db.execute("DELETE FROM accounts WHERE name = ?", (name,))
    return cur.rowcount > 0


def _account(store: DashboardStore, row: tuple) -> Account:
    aid, name, role = row[0], row[1], row[2]
    zones = tuple(z for (z,) in store.db.execute(
        "SELECT zone FROM account_zones WHERE account_id = ? ORDER BY zone", (aid,)))
    return Account(int(aid), name, role, zones if role == "partner" else ())


def list_accounts(store: DashboardStore) -> list[Account]:
    """Every account, by name."""
    rows = store.db.execute("SELECT id, name, role FROM accounts ORDER BY name").fetchall()
    return [_account(store, r) for r in rows]


def authenticate(store: DashboardStore, token: str | None) -> Account | None:
    """The account a bearer token belongs to, or None (missing, malformed, wrong or removed)."""
    if not token or len(token) > 200 or "." not in token:
        return None
    aid, _, secret = token.partition(".")
    if not aid.isdigit() or not secret:
        return None
    row = store.db.execute("SELECT id, name, role, token_sha256 FROM accounts WHERE id = ?", (int(aid),)).fetchone()
    if row is None:
        # Spend the same hashing work either way.
        hmac.compare_digest(_hash(secret), "0" * 64)
        return None
    if not hmac.compare_digest(_hash(secret), row[3]):
        return None
    return _account(store, row)
