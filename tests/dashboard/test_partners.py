"""Partner accounts: roles, areas, hashed tokens, removal."""

from __future__ import annotations

import hashlib
import json

import pytest

from dashboard.partners import add_account, authenticate, list_accounts, remove_account
from dashboard.store import DashboardStore
from salvo.errors import ConfigError

SQUARE = json.dumps({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]})


@pytest.fixture
def store(tmp_path):
    with DashboardStore(tmp_path / "d.db") as st:
        st.set_zones("z", [("Mission", SQUARE), ("Bayview Hunters Point", SQUARE)])
        yield st


def test_tokens_are_stored_only_as_hashes(store):
    acct, token = add_account(store, "bayview", "partner", ("Bayview Hunters Point",))
    aid, secret = token.split(".")
    assert int(aid) == acct.id and len(secret) >= 40
    stored = store.db.execute("SELECT token_sha256 FROM accounts").fetchall()
    assert stored == [(hashlib.sha256(secret.encode()).hexdigest(),)]
    dump = "\n".join(store.db.iterdump())
    assert secret not in dump and token not in dump


def test_authenticate_accepts_only_the_right_token(store):
    acct, token = add_account(store, "bayview", "partner", ("Bayview Hunters Point",))
    other, token2 = add_account(store, "ops", "dispatch")
    assert authenticate(store, token) == acct and acct.zones == ("Bayview Hunters Point",)
    assert authenticate(store, token2).sees_everything
    aid, secret = token.split(".")
    for bad in (None, "", secret, f"{other.id}.{secret}", f"{aid}.{secret[:-1]}x", f"{aid}.", "x." + secret,
                "9999." + secret, token + "a" * 300):
        assert authenticate(store, bad) is None
    assert remove_account(store, "bayview") and not remove_account(store, "bayview")
    assert authenticate(store, token) is None
    assert [a.name for a in list_accounts(store)] == ["ops"]


def test_account_checks(store):
    with pytest.raises(ConfigError, match="role"):
        add_account(store, "x", "superuser")
    with pytest.raises(ConfigError, match="zones"):
        add_account(store, "x", "partner", ())
    with pytest.raises(ConfigError, match="Atlantis"):
        add_account(store, "x", "partner", ("Atlantis",))
    add_account(store, "x", "admin")
    with pytest.raises(ConfigError, match="exists"):
        add_account(store, "x", "admin")
