"""`placement backup` and `placement restore` on SQLite (online backup API) and PostgreSQL
(pg_dump / pg_restore): a restore gives back every row of every table."""

from __future__ import annotations

import shutil

import pytest
from typer.testing import CliRunner

from api.cli import app as cli
from data.db.backup import every_row
from tests.api_support import cli_url, running_api


def test_backup_then_restore_gives_back_every_row(db, tmp_path):
    if not db.is_sqlite and shutil.which("pg_dump") is None:
        pytest.skip("pg_dump is not installed")
    run = CliRunner().invoke
    with running_api(db) as api:
        rid = api.post("/reservations", {"unit_id": "U-nev", "child_id": "C-1"}).json()["id"]
        api.post(f"/reservations/{rid}/confirm")
        api.post("/reservations", {"unit_id": "U-near-4", "sibling_group_id": "F-1"})
        api.patch("/units/U-near-12", {"capacity": 4}, role="structure_manager")
        before = every_row(db)
        done = run(cli, ["backup", str(tmp_path / "store.backup"), "--database-url", cli_url(db)])
        assert done.exit_code == 0, done.output
        # changes after the backup: a confirmation, a cancellation, a new account
        rid2 = api.post("/reservations", {"unit_id": "U-pou", "child_id": "C-0"}).json()["id"]
        api.post(f"/reservations/{rid2}/confirm")
        api.add_account("late", "planner")
    assert every_row(db) != before
    done = run(cli, ["restore", str(tmp_path / "store.backup"), "--database-url", cli_url(db)])
    assert done.exit_code == 0, done.output
    after = every_row(db)
    assert set(after) >= {"children", "units", "reservations", "placements", "users", "audit_log", "meta"}
    assert after == before
    assert sum(len(rows) for rows in after.values()) > 40


def test_a_bad_backup_file_is_refused_and_changes_nothing(db, tmp_path):
    with running_api(db):
        pass
    before = every_row(db)
    bad = tmp_path / "not-a-backup"
    bad.write_bytes(b"this is not a backup" * 100)
    done = CliRunner().invoke(cli, ["restore", str(bad), "--database-url", cli_url(db)])
    assert done.exit_code == 2 and "error:" in done.output
    missing = CliRunner().invoke(cli, ["restore", str(tmp_path / "nowhere"), "--database-url", cli_url(db)])
    assert missing.exit_code == 2 and "does not exist" in missing.output
    assert every_row(db) == before
