"""A small Paris system and a test client of the officers' service over a given store."""

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
from matcher import CurrentPlacement, Need, Sex, SiblingGroup, StructureType
from matcher.model import Home, Location, UnitSex
from tests.factories import NEVERS, PARIS_15, PARIS_18, SAINT_DENIS, child, structure, system, unit

PARIS_19 = Location(48.8871, 2.3848, "75119", "75")


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
    children = [
        child("C-1", 8, home=h1),
        child("C-2", 9, Sex.FEMALE, home=h2, sibling_group_id="F-1"),
        child("C-3", 13, Sex.FEMALE, home=h2, sibling_group_id="F-1"),
        child("C-P", 17, Sex.FEMALE, home=h3, needs=(Need.PROTECTION, Need.MOTHER_CHILD), pregnant=True),
        child("C-0", 1, home=h1),
        child("C-placed", 10, home=h1, current=CurrentPlacement("U-near-4", date(2026, 1, 5))),
    ]
    return system(children, structures, units, [SiblingGroup("F-1", ("C-2", "C-3"))])


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

    def get(self, url: str, role: str | None = None, **kw):
        return self.client.get(url, headers={"X-Role": role} if role else {}, **kw)

    def post(self, url: str, json=None, role: str | None = None, **kw):
        return self.client.post(url, json=json, headers={"X-Role": role} if role else {}, **kw)

    def patch(self, url: str, json=None, role: str | None = None, **kw):
        return self.client.patch(url, json=json, headers={"X-Role": role} if role else {}, **kw)


@contextmanager
def running_api(db: Database, prices: Mapping[str, float] | None = None,
                runner: JobRunner = solver_job, price_function: Callable | None = None,
                seed: bool = True) -> Iterator[Api]:
    """A test client over ``db``, which first gets :func:`sample_system` (unless ``seed`` is
    False: a second app over the store another one is using)."""
    clock = Clock(datetime(2026, 11, 23, 9, 0, 0))
    calls: list[int] = []

    def counted(sys, travel, weights):
        calls.append(1)
        return dict(prices or {})

    services = Services(
        Settings(database_url=db.url_for_display, travel="crowfly", sweep_seconds=0),
        db=db, travel=CrowFlyTravel(), prices=price_function or counted, runner=runner, clock=clock,
    )
    if seed:
        db.save_system(sample_system())
    with TestClient(create_app(services=services)) as client:
        yield Api(client, services, clock, db, calls)
