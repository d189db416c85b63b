"""A small Paris system and a test client of the officers' service over a given store, with one
test account per role (docs/SECURITY.md): ``api.get(url, role="planner")`` signs in as that
account and sends its token; ``role=None`` calls anonymously. The officer and the protection
officer belong to the service of every sample child (:data:`SAMPLE_SERVICE`); the structure
manager runs S-near and S-nev."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from fastapi.testclient import TestClient

from api.app import create_app
from api.services import CrowFlyTravel, JobRunner, Services, solver_job
from api.settings import Settings
from data.db import Database
import secrets

from data.db import accounts
from data.db.repository import utcnow
from matcher import CurrentPlacement, Need, Sex, SiblingGroup, StructureType
from matcher.model import Home, Location, Service, UnitSex
from tests.factories import NEVERS, PARIS_15, PARIS_18, SAINT_DENIS, child, structure, system, unit

PARIS_19 = Location(48.8871, 2.3848, "75119", "75")
SAMPLE_SERVICE = Service.SECTOR_8
"""The service of every child of :func:`sample_system` (and of the test officers)."""
OTHER_SERVICE = Service.SECTOR_2
TEST_ACCOUNTS: dict[str, dict] = {
    "officer": {"role": "officer", "service": SAMPLE_SERVICE.value},
    "protection_officer": {"role": "protection_officer", "service": SAMPLE_SERVICE.value},
    "planner": {"role": "planner"},
    "structure_manager": {"role": "structure_manager", "structure_ids": ["S-near", "S-nev"]},
    "administrator": {"role": "administrator"},
}
"""The accounts every running_api creates, by name (each named after its role)."""
CHEAP_ARGON2 = {"argon2_time_cost": 1, "argon2_memory_kib": 8, "argon2_parallelism": 1}
"""Argon2id parameters for tests only (fast)."""


def test_settings(database_url: str, **kw) -> Settings:
    """Settings for a test server: crowfly travel, no sweep thread, a random signing key."""
    return Settings(database_url=database_url, travel="crowfly", sweep_seconds=0,
                    secret_key=secrets.token_urlsafe(40), **{**CHEAP_ARGON2, **kw})


def sample_system():
    h1, h2, h3 = Home("H-1", PARIS_18), Home("H-2", PARIS_19), Home("H-3", PARIS_18)
    structures = [
        structure("S-near", StructureType.MECS, PARIS_15, name="MECS Vaugirard"),
        structure("S-sd", StructureType.MECS, SAINT_DENIS, name="MECS Saint-Denis"),
        structure("S-nev", StructureType.MECS, NEVERS, name="MECS Nevers", daily_price_eur=150.0),
        structure("S-secret", StructureType.CENTRE_MATERNEL, PARIS_18, (Need.PROTECTION, Need.MOTHER_CHILD),
                  name="Secret home", secret=True),
        structure("S-pou", StructureType.POUPONNIERE, PARIS_15, name="Pouponnière du 15e"),
    ]
    units = [
        unit("U-near-4", "S-near", (4, 11), capacity=2, occupied=1),
        unit("U-near-12", "S-near", (12, 15), UnitSex.GIRLS, capacity=3),
        unit("U-sd-4", "S-sd", (4, 15), capacity=5, occupied=5),
        unit("U-sd-16", "S-sd", (16, 21), capacity=4, occupied=1),
        unit("U-nev", "S-nev", (4, 17), capacity=10),
        unit("U-secret", "S-secret", (16, 21), UnitSex.GIRLS, capacity=2),
        unit("U-pou", "S-pou", (0, 3), capacity=4, occupied=1),
    ]
    sv = SAMPLE_SERVICE
    children = [
        child("C-1", 8, home=h1, service=sv),
        child("C-2", 9, Sex.FEMALE, home=h2, sibling_group_id="F-1", service=sv),
        child("C-3", 13, Sex.FEMALE, home=h2, sibling_group_id="F-1", service=sv),
        child("C-P", 17, Sex.FEMALE, home=h3, needs=(Need.PROTECTION, Need.MOTHER_CHILD), pregnant=True, service=sv),
        child("C-0", 1, home=h1, service=sv),
        child("C-placed", 10, home=h1, current=CurrentPlacement("U-near-4", date(2026, 1, 5)), service=sv),
    ]
    return system(children, structures, units, [SiblingGroup("F-1", ("C-2", "C-3"))])


def cli_url(db: Database) -> str:
    """The URL a ``placement`` command gets for ``db`` (a test schema through search_path)."""
    url = db.url
    if db.schema:
        url = url.update_query_dict({"options": f"-csearch_path={db.schema}"})
    return url.render_as_string(hide_password=False)


class Clock:
    """A clock the tests move by hand (naive UTC)."""

    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs) -> None:
        self.now += timedelta(**kwargs)


@dataclass
class Api:
    client: TestClient
    services: Services
    clock: Clock
    db: Database
    price_calls: list[int]
    passwords: dict[str, str]
    tokens: dict[str, str]

    def add_account(self, name: str, role: str, service: str | None = None,
                    structure_ids: tuple[str, ...] | list[str] = ()) -> str:
        """Create an account (a random password, kept here) and return its name."""
        password = secrets.token_urlsafe(18)
        with self.db.write() as session:
            accounts.add_user(session, name=name, role=role, service=service, structure_ids=list(structure_ids),
                              password_hash=self.services.security.hash_password(password), now=utcnow())
        self.passwords[name] = password
        return name

    def sign_in(self, name: str, password: str | None = None):
        return self.client.post("/auth/token", data={"username": name, "password": password or self.passwords[name]})

    def headers(self, role: str | None) -> dict[str, str]:
        """Authorization for the account named ``role`` (signed in once, then its token reused)."""
        if role is None:
            return {}
        if role not in self.tokens:
            r = self.sign_in(role)
            assert r.status_code == 200, r.text
            self.tokens[role] = r.json()["access_token"]
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def get(self, url: str, role: str | None = "officer", **kw):
        return self.client.get(url, headers={**self.headers(role), **kw.pop("headers", {})}, **kw)

    def post(self, url: str, json=None, role: str | None = "officer", **kw):
        return self.client.post(url, json=json, headers={**self.headers(role), **kw.pop("headers", {})}, **kw)

    def patch(self, url: str, json=None, role: str | None = "officer", **kw):
        return self.client.patch(url, json=json, headers={**self.headers(role), **kw.pop("headers", {})}, **kw)


@contextmanager
def running_api(db: Database, prices: Mapping[str, float] | None = None,
                runner: JobRunner = solver_job, price_function: Callable | None = None,
                seed: bool = True, **settings) -> Iterator[Api]:
    """A test client over ``db``, which first gets :func:`sample_system` (unless ``seed`` is
    False: a second app over the store another one is using) and the :data:`TEST_ACCOUNTS`
    (unless they are there already)."""
    clock = Clock(datetime(2026, 11, 23, 9, 0, 0))
    calls: list[int] = []

    def counted(sys, travel, weights):
        calls.append(1)
        return dict(prices or {})

    services = Services(
        test_settings(db.url_for_display, **settings),
        db=db, travel=CrowFlyTravel(), prices=price_function or counted, runner=runner, clock=clock,
    )
    if seed:
        db.save_system(sample_system())
    with TestClient(create_app(services=services)) as client:
        api = Api(client, services, clock, db, calls, {}, {})
        with db.read() as session:
            existing = {a.name for a in accounts.list_accounts(session)}
        for name, profile in TEST_ACCOUNTS.items():
            if name in existing:  # a second app over the same store: new passwords for the same accounts
                password = secrets.token_urlsafe(18)
                with db.write() as session:
                    accounts.set_password(session, name, services.security.hash_password(password), utcnow())
                api.passwords[name] = password
            else:
                api.add_account(name, **profile)
        yield api
