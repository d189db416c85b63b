"""Who may do what: the one access policy of the officers' service (docs/SECURITY.md).

``POLICY`` maps each route (method, path template) to the roles that may call it and the
row-level scoping the route applies. :func:`api.deps.authorize`, a dependency of the whole app,
looks every request up here: a route with no entry is refused (deny by default), a public one
needs no token, any other needs a valid token of one of its roles (401 without one, 403 with a
wrong role). The row-level scoping is done by the functions below, which the routes call, and
every refusal of a row is the same 404 as for an id that does not exist, so that ids cannot be
probed:

- ``service``: an officer or a protection officer acts only for the children of their service
  (children, sibling groups, reservations held by the service);
- ``secret``: secret places (and their units, reservations, proposals, "why not") exist only for
  protection officers and for the structure manager who runs them;
- ``structures``: a structure manager sees and updates only the units of their structures;
- ``owner``: a batch job and its result are seen only by the account that started it;
- ``pseudonymous``: the answer carries pseudonyms (keyed hashes) instead of child ids.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from api.problems import ApiProblem
from data.db.audit import Entry
from matcher.model import Child, PlacementSystem, SiblingGroup, Structure, Unit

OFFICER, PROTECTION, PLANNER, MANAGER, ADMIN = (
    "officer", "protection_officer", "planner", "structure_manager", "administrator")
SERVICE_ROLES = frozenset({OFFICER, PROTECTION})


@dataclass(frozen=True, slots=True)
class Rule:
    """Roles that may call a route (empty and ``public``: no sign-in) and its row-level scoping."""

    roles: frozenset[str]
    scope: tuple[str, ...] = ()
    public: bool = False
    page: bool = False
    """A web page (api.web): the caller is resolved if signed in but never refused here; the
    page itself answers the sign-in page or a French refusal, by these same roles."""


def allow(*roles: str, scope: tuple[str, ...] = ()) -> Rule:
    return Rule(frozenset(roles), scope)


def page(*roles: str) -> Rule:
    """A web page open to these roles (none: to every visitor, such as the sign-in page)."""
    return Rule(frozenset(roles), (), False, True)


PUBLIC = Rule(frozenset(), (), True)
EVERYONE = (OFFICER, PROTECTION, PLANNER, MANAGER, ADMIN)

POLICY: dict[tuple[str, str], Rule] = {
    ("GET", "/health"): PUBLIC,
    ("GET", "/docs"): PUBLIC,  # Swagger UI, served offline: no data (the schema lists no record)
    ("POST", "/auth/token"): PUBLIC,
    ("POST", "/auth/refresh"): PUBLIC,
    ("GET", "/auth/me"): allow(*EVERYONE),
    ("GET", "/places"): allow(OFFICER, PROTECTION, PLANNER, MANAGER, scope=("secret", "service")),
    ("GET", "/children/{child_id}/proposals"): allow(OFFICER, PROTECTION, scope=("service", "secret")),
    ("GET", "/sibling-groups/{group_id}/proposals"): allow(OFFICER, PROTECTION, scope=("service", "secret")),
    ("POST", "/reservations"): allow(OFFICER, PROTECTION, scope=("service", "secret")),
    ("GET", "/reservations/{reservation_id}"): allow(OFFICER, PROTECTION, ADMIN, scope=("service", "secret")),
    ("POST", "/reservations/{reservation_id}/confirm"): allow(OFFICER, PROTECTION, ADMIN, scope=("service", "secret")),
    ("POST", "/reservations/{reservation_id}/cancel"): allow(OFFICER, PROTECTION, ADMIN, scope=("service", "secret")),
    ("GET", "/units/{unit_id}"): allow(OFFICER, PROTECTION, PLANNER, MANAGER, scope=("secret", "structures")),
    ("PATCH", "/units/{unit_id}"): allow(MANAGER, scope=("structures",)),
    ("POST", "/jobs"): allow(PLANNER, ADMIN, scope=("owner",)),
    ("GET", "/jobs/{job_id}"): allow(PLANNER, ADMIN, scope=("owner",)),
    ("GET", "/jobs/{job_id}/result"): allow(PLANNER, ADMIN, scope=("owner", "pseudonymous", "secret")),
    ("POST", "/jobs/{job_id}/cancel"): allow(PLANNER, ADMIN, scope=("owner",)),
    ("GET", "/children"): allow(OFFICER, PROTECTION, scope=("service",)),
    ("POST", "/rebalancing"): allow(PLANNER),
    ("GET", "/rebalancing/{job_id}"): allow(PLANNER, OFFICER, PROTECTION, scope=("service", "secret", "pseudonymous")),
    ("POST", "/rebalancing/{job_id}/moves/{number}/approve"): allow(OFFICER, PROTECTION, scope=("service", "secret")),
    ("GET", "/children/{child_id}"): allow(OFFICER, PROTECTION, scope=("service", "secret")),
    ("GET", "/reservations"): allow(OFFICER, PROTECTION, ADMIN, scope=("service", "secret")),
    ("POST", "/simulations"): allow(PLANNER, scope=("owner",)),
    ("GET", "/simulations/{job_id}"): allow(PLANNER, scope=("owner",)),
    ("GET", "/simulations/{job_id}/result"): allow(PLANNER, scope=("owner",)),
    ("GET", "/simulations/{job_id}/report"): allow(PLANNER, scope=("owner",)),
    ("GET", "/units"): allow(OFFICER, PROTECTION, PLANNER, MANAGER, scope=("secret", "structures")),
    ("GET", "/jobs"): allow(PLANNER, ADMIN, scope=("owner",)),
    ("GET", "/scenarios/examples"): allow(PLANNER),
    ("GET", "/scenarios/jobs"): allow(PLANNER, scope=("owner",)),
    ("POST", "/scenarios/runs"): allow(PLANNER, scope=("owner",)),
    ("POST", "/scenarios/sweeps"): allow(PLANNER, scope=("owner",)),
    ("GET", "/scenarios/jobs/{job_id}"): allow(PLANNER, scope=("owner",)),
    ("GET", "/scenarios/jobs/{job_id}/comparison"): allow(PLANNER, scope=("owner",)),
    ("GET", "/scenarios/jobs/{job_id}/report"): allow(PLANNER, scope=("owner",)),
    ("GET", "/scenarios/jobs/{job_id}/pictures"): allow(PLANNER, scope=("owner",)),
    ("GET", "/scenarios/jobs/{job_id}/pictures/{name}"): allow(PLANNER, scope=("owner",)),
    ("GET", "/children/{child_id}/map"): allow(OFFICER, PROTECTION, scope=("service", "secret")),
    ("GET", "/sibling-groups/{group_id}/map"): allow(OFFICER, PROTECTION, scope=("service", "secret")),
    ("GET", "/places/map"): allow(OFFICER, PROTECTION, PLANNER, MANAGER, scope=("secret",)),
    ("GET", "/structures"): allow(OFFICER, PROTECTION, PLANNER, MANAGER, scope=("secret",)),
    # the web pages (api.web): data on them comes from the routes above, checked again there
    ("GET", "/"): page(),
    ("GET", "/web/"): page(),
    ("GET", "/web/sign-in"): page(),
    ("POST", "/web/sign-in"): page(),
    ("POST", "/web/sign-out"): page(),
    ("POST", "/web/refresh"): page(),
    ("GET", "/web/children"): page(OFFICER, PROTECTION),
    ("GET", "/web/children/{child_id}"): page(OFFICER, PROTECTION),
    ("GET", "/web/groups/{group_id}"): page(OFFICER, PROTECTION),
    ("GET", "/web/holds"): page(OFFICER, PROTECTION),
    ("GET", "/web/places"): page(OFFICER, PROTECTION, MANAGER, PLANNER),
    ("GET", "/web/units"): page(MANAGER),
    ("GET", "/web/planning"): page(PLANNER),
    ("GET", "/web/jobs"): page(PLANNER, ADMIN),
}
"""(method, path template) -> who may call it. A route missing here is refused."""


@dataclass(frozen=True, slots=True)
class Caller:
    """The signed-in account making the request (reloaded from the store on every request)."""

    user_id: int
    name: str
    role: str
    service: str | None
    structure_ids: frozenset[str]
    remote: str = ""

    @property
    def sees_secret(self) -> bool:
        """Sees every secret place (a structure manager sees only the secret ones they run)."""
        return self.role == PROTECTION

    @property
    def manages_units(self) -> bool:
        return self.role == MANAGER

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN

    def entries(self, action: str, subject_type: str, ids: Iterable[str]) -> list[Entry]:
        """Audit entries for this caller."""
        return [Entry(self.name, self.role, action, subject_type, i, self.remote or "unknown") for i in ids]

    def reservation_entries(self, action: str, rows) -> list[Entry]:
        """Audit entries for a change of reservations: each reservation and each of its children."""
        return (self.entries(action, "reservation", [r.id for r in rows])
                + self.entries(action, "child", [c for r in rows for c in r.child_ids]))


def forbidden(detail: str, fr: str) -> ApiProblem:
    """A 403: ``detail`` in English, ``fr`` in French."""
    return ApiProblem(403, "Forbidden", detail, fr=fr)


_PARAMETER_OF = {"Child": "child_id", "Sibling group": "group_id", "Structure": "structure_id", "Unit": "unit_id",
                 "Reservation": "reservation_id", "Batch job": "job_id", "Scenario job": "job_id", "Simulation": "job_id"}


def not_found(kind: str, ident: str, field: str | None = None, where: str = "path") -> ApiProblem:
    """The one answer for an id that does not exist and an id the caller may not see: the same
    404 as :func:`api.problems.not_found`, with an ``errors`` entry naming the parameter
    (``field``, default the path parameter of ``kind``) and where it was sent (path, query or
    body)."""
    from api.problems import not_found as problem

    return problem(kind, ident, field or _PARAMETER_OF.get(kind, "id"), where)


# --- row-level scoping --------------------------------------------------------------------------


def sees_structure(caller: Caller, structure: Structure) -> bool:
    return not structure.secret or caller.sees_secret or structure.id in caller.structure_ids


def acts_for_child(caller: Caller, child: Child) -> bool:
    return caller.role in SERVICE_ROLES and child.service is not None and child.service.value == caller.service


def acts_for_group(caller: Caller, system: PlacementSystem, group: SiblingGroup) -> bool:
    """The caller acts for every child of the fratrie (and so may hold it)."""
    return all(acts_for_child(caller, system.child_by_id[c]) for c in group.child_ids)


def child(caller: Caller, system: PlacementSystem, child_id: str, field: str = "child_id",
          where: str = "path") -> Child:
    """A child of the caller's service; 404 otherwise (unknown or not theirs alike), naming the
    parameter ``field`` sent ``where`` (path, query or body)."""
    found = system.child_by_id.get(child_id)
    if found is None or not acts_for_child(caller, found):
        raise not_found("Child", child_id, field, where)
    return found


def sibling_group(caller: Caller, system: PlacementSystem, group_id: str, field: str = "group_id",
                  where: str = "path") -> SiblingGroup:
    """A fratrie every child of which is of the caller's service; 404 otherwise (naming
    ``field`` sent ``where``)."""
    group = system.sibling_group_by_id.get(group_id)
    if group is None or not acts_for_group(caller, system, group):
        raise not_found("Sibling group", group_id, field, where)
    return group


def structure(caller: Caller, system: PlacementSystem, structure_id: str, field: str = "structure_id",
              where: str = "path") -> Structure:
    found = system.structure_by_id.get(structure_id)
    if found is None or not sees_structure(caller, found):
        raise not_found("Structure", structure_id, field, where)
    return found


def unit(caller: Caller, system: PlacementSystem, unit_id: str, field: str = "unit_id", where: str = "path") -> Unit:
    """A unit the caller may see: of a structure they see, and for a structure manager one of
    their own structures; 404 otherwise (naming ``field`` sent ``where``)."""
    found = system.unit_by_id.get(unit_id)
    if found is None or not sees_structure(caller, system.structure_of(found)) \
            or (caller.role == MANAGER and found.structure_id not in caller.structure_ids):
        raise not_found("Unit", unit_id, field, where)
    return found


def reservation(caller: Caller, system: PlacementSystem, row, asked: str | None = None) -> str:
    """The structure id of a reservation the caller may see and act on: an administrator any,
    an officer those of their service on places they see; 404 otherwise, naming the id
    ``asked`` (for a part of a bundle, the part asked for, never another row's id)."""
    held_unit = system.unit_by_id.get(row.unit_id)
    structure_id = held_unit.structure_id if held_unit is not None else ""
    if caller.is_admin:
        return structure_id
    visible = held_unit is not None and sees_structure(caller, system.structure_of(held_unit))
    if not visible or caller.role not in SERVICE_ROLES or row.service != caller.service:
        raise not_found("Reservation", row.id if asked is None else asked)
    return structure_id


def job(caller: Caller, row, asked: str | None = None) -> None:
    """A batch job is seen by its owner only; 404 otherwise (naming the id ``asked``)."""
    if row.owner != caller.name:
        raise not_found("Batch job", row.id if asked is None else asked)


def child_origin(caller: Caller) -> None:
    """Travel from a child's family home is for the officers of that child only."""
    if caller.role not in SERVICE_ROLES:
        raise forbidden(f"Role {caller.role!r} may not ask for travel times from a child's family home.",
                        f"Le rôle {caller.role!r} ne peut pas demander les temps de trajet depuis le domicile "
                        "familial d'un enfant.")
