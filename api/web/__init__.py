"""The pages for placement officers, structure managers and planners, in French, served by
``placement serve`` beside the JSON API (templates and bundled assets under ``api/web/``; no CDN,
no map tiles: everything works offline).

The pages are thin: each is a template that names the JSON routes it shows, and the bundled
script asks those routes for the data with the signed-in account's session cookie. So every
figure a page shows, and every refusal, comes from the same routes, roles and checks as for any
other client (the one access policy of :mod:`api.policy`). A page itself is opened only to the
roles of its entry in the access policy (``api.policy.POLICY``); otherwise it answers a French refusal (403), and to a
visitor who is not signed in, the sign-in page.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from api.policy import POLICY
from api.web import labels, session
from matcher.model import Need, StructureType

WEB_DIR = Path(__file__).parent
templates = Jinja2Templates(directory=WEB_DIR / "templates")


@dataclass(frozen=True, slots=True)
class Page:
    """One page: its path, template, title (French), and whether it appears in the navigation.
    The roles it is open to are its entry in the access policy."""

    key: str
    path: str
    template: str
    title: str
    in_nav: bool = True

    @property
    def roles(self) -> frozenset[str]:
        return POLICY[("GET", self.path)].roles


PAGES: tuple[Page, ...] = (
    Page("children", "/web/children", "children.html", "Enfants en attente"),
    Page("child", "/web/children/{child_id}", "child.html", "Enfant", in_nav=False),
    Page("child", "/web/groups/{group_id}", "child.html", "Fratrie", in_nav=False),
    Page("holds", "/web/holds", "holds.html", "Réservations"),
    Page("places", "/web/places", "places.html", "Places libres"),
    Page("units", "/web/units", "units.html", "Mes unités"),
    Page("planning", "/web/planning", "planning.html", "Planification"),
    Page("jobs", "/web/jobs", "jobs.html", "Travaux"),
)
"""Every page (the data on it is checked again by the API routes it asks)."""

HOME_OF_ROLE = {"officer": "/web/children", "protection_officer": "/web/children",
                "structure_manager": "/web/units", "planner": "/web/planning", "administrator": "/web/jobs"}


def _context(request: Request, page: str, title: str, user, **more) -> dict:
    nav = [p for p in PAGES if p.in_nav and user is not None and user.role in p.roles]
    return {"request": request, "page": page, "title": title, "user": user, "nav": nav,
            "role_name": labels.label(user.role) if user is not None else "",
            "needs": labels.choices(Need), "structure_types": labels.choices(StructureType),
            "labels_json": labels.as_json(), **more}


def _render(request: Request, template: str, context: dict, status_code: int = 200) -> HTMLResponse:
    response = templates.TemplateResponse(request, template, context, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    return response


def _page_handler(page: Page):
    def handler(request: Request) -> Response:
        user = session.current_user(request)
        if user is None:
            return RedirectResponse(f"/web/sign-in?next={request.url.path}", status_code=303)
        if user.role not in page.roles:
            return _render(request, "base.html", _context(request, "refused", page.title, user, refused=True), 403)
        return _render(request, page.template, _context(request, page.key, page.title, user))

    handler.__name__ = f"page_{page.key}"
    return handler


router = APIRouter(include_in_schema=False)


@router.get("/web/sign-in", response_class=HTMLResponse)
def sign_in_page(request: Request, expired: int = 0) -> Response:
    message = "Votre session a expiré : reconnectez-vous." if expired else None
    return _render(request, "sign_in.html", _context(request, "sign-in", "Connexion", None, message=message))


@router.post("/web/sign-in", response_class=HTMLResponse)
async def sign_in(request: Request) -> Response:
    form = await request.form()
    username, password = str(form.get("username", ""))[:64], str(form.get("password", ""))
    signed = session.sign_in(request, username, password)
    if signed is None:
        context = _context(request, "sign-in", "Connexion", None, username=username,
                           message="Identifiant ou mot de passe incorrect, ou compte verrouillé.")
        return _render(request, "sign_in.html", context, 401)
    user, tokens = signed
    response = RedirectResponse(HOME_OF_ROLE.get(user.role, "/web/places"), status_code=303)
    session.set_cookies(request, response, tokens)
    return response


@router.post("/web/sign-out")
def sign_out(request: Request) -> Response:
    session.sign_out(request)
    response = RedirectResponse("/web/sign-in", status_code=303)
    session.clear_cookies(response)
    return response


@router.post("/web/refresh")
def refresh(request: Request) -> Response:
    tokens = session.refresh(request)
    if tokens is None:
        response = Response(status_code=401)
        session.clear_cookies(response)
        return response
    response = Response(status_code=204)
    session.set_cookies(request, response, tokens)
    return response


@router.get("/web/")
@router.get("/")
def home(request: Request) -> Response:
    user = session.current_user(request)
    target = "/web/sign-in" if user is None else HOME_OF_ROLE.get(user.role, "/web/places")
    return RedirectResponse(target, status_code=303)


for _page in PAGES:
    router.add_api_route(_page.path, _page_handler(_page), methods=["GET"], response_class=HTMLResponse)


def install(app: FastAPI) -> None:
    """Serve the pages and their bundled assets on ``app``."""
    app.mount("/static", StaticFiles(directory=WEB_DIR / "static"), name="static")
    app.include_router(router)
