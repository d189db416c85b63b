"""Schemathesis against the OpenAPI schema, signed in as each role: no 500, every status code,
content type and body as the schema documents them. A few examples per operation and role, so
that it runs in seconds; SQLite only (the same app code on both stores)."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from data.db import Database
from tests.api_support import TEST_ACCOUNTS, running_api

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    db = Database(f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'placement.sqlite3'}")
    db.migrate()
    with running_api(db, prices={}) as api:
        yield api
    db.dispose()


@pytest.fixture(scope="module")
def api_schema(served):
    return schemathesis.openapi.from_asgi("/openapi.json", served.client.app)


schema = schemathesis.pytest.from_fixture("api_schema")


ROLES = [*TEST_ACCOUNTS, None]
"""Every test account, and nobody signed in (schemathesis' lazy schemas take no parametrised
fixture, so each generated case is sent once per role)."""


@schema.parametrize()
@settings(max_examples=3, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_the_api_keeps_to_its_schema_for_every_role(case, served):
    for role in ROLES:
        case.call_and_validate(headers=served.headers(role), checks=CHECKS)
