"""Cross-cutting security checks. They walk app.url_map, so they cover every route, also the
ones added later: login required, viewers change nothing, CSRF, headers, no inline script,
body size limit, and escaping of user-typed text."""

import re
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select
from werkzeug.routing import IntegerConverter, UUIDConverter

from crmlite.core import tags as tags_core
from crmlite.core.contacts import create_contact, validate
from crmlite.core.custom_fields import create_field
from crmlite.extensions import db
from crmlite.models import Contact, User
from crmlite.paths import resource_dir

from .conftest import PASSWORD, csrf_from, login

OPEN_ENDPOINTS = {
    "static",
    "auth.login",
    "auth.setup",
    "health.healthz",
    # A link in a campaign mail: a signed token, one button, no login (docs/campaigns.md).
    "campaigns.unsubscribe_link",
}
CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'


def sample_ids(app, users) -> dict[str, int]:
    """Real rows for every kind of id a URL may carry."""
    with app.app_context():
        contact = create_contact(
            db.session, validate({"first_name": "Anna", "company": "Acme"}), users["editor"]
        )
        tag = tags_core.get_or_create(db.session, "vip")
        tags_core.add_tag(db.session, contact, tag, users["editor"])
        field = create_field(db.session, "Shoe size", "number")
        db.session.commit()
        return {
            "contact": contact.id,
            "tag": tag.id,
            "user": users["editor"],
            "field": field.id,
        }


def _value_for(name: str, converter, ids: dict[str, int]):
    if isinstance(converter, IntegerConverter):
        for kind, value in ids.items():
            if name.startswith(kind) or name == f"{kind}_id":
                return value
        return ids["contact"]
    if isinstance(converter, UUIDConverter):
        return uuid.uuid4()
    return "x"


def build_url(rule, ids: dict[str, int]) -> str:
    values = {name: _value_for(name, conv, ids) for name, conv in rule._converters.items()}
    built = rule.build(values, append_unknown=False)
    assert built is not None, rule.rule
    return built[1]


def _rules(app, exclude=OPEN_ENDPOINTS):
    return [r for r in app.url_map.iter_rules() if r.endpoint not in exclude]


def _methods(rule):
    return sorted(rule.methods - {"HEAD", "OPTIONS"})


def _view_flag(app, rule, flag: str) -> bool:
    return bool(getattr(app.view_functions[rule.endpoint], flag, False))


def _snapshot(app, contact_id: int) -> dict:
    with app.app_context():
        counts = {
            t.name: db.session.scalar(select(func.count()).select_from(t))
            for t in db.metadata.sorted_tables
        }
        contact = db.session.get(Contact, contact_id)
        counts["contact.version"] = contact.version if contact else None
        counts["contact.name"] = contact.first_name if contact else None
        counts["tags"] = sorted(t.name for t in contact.tags) if contact else None
        db.session.remove()
        return counts


# -- login required everywhere ------------------------------------------------------------


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
def test_every_route_needs_login(app, client, users, htmx):
    ids = sample_ids(app, users)
    before = _snapshot(app, ids["contact"])
    headers = {"HX-Request": "true"} if htmx else {}
    checked = 0
    for rule in _rules(app):
        for method in _methods(rule):
            url = build_url(rule, ids)
            resp = client.open(url, method=method, headers=headers)
            where = f"{method} {rule.rule} ({rule.endpoint})"
            if htmx:
                assert resp.status_code == 401, where
                assert "/login" in resp.headers.get("HX-Redirect", ""), where
            else:
                assert resp.status_code == 302, where
                assert "/login" in resp.headers["Location"], where
            checked += 1
    assert checked >= 10  # the walk really walked
    assert _snapshot(app, ids["contact"]) == before


def test_open_routes_are_only_login_setup_static_and_health(app):
    public = {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static" and _view_flag(app, rule, "crmlite_public")
    }
    assert public <= OPEN_ENDPOINTS


# -- a viewer changes nothing -------------------------------------------------------------


def test_a_viewer_gets_403_on_every_state_changing_route(app, viewer_client, users):
    ids = sample_ids(app, users)
    before = _snapshot(app, ids["contact"])
    checked = []
    for rule in _rules(app, exclude=OPEN_ENDPOINTS | {"auth.logout"}):
        if _view_flag(app, rule, "crmlite_any_role") or _view_flag(app, rule, "crmlite_public"):
            continue
        for method in sorted(rule.methods & CHANGING):
            url = build_url(rule, ids)
            # A plausible body, so a route that forgot the role check would really change data.
            data = {
                "first_name": "Hacked",
                "name": "hacked",
                "tag": "hacked",
                "value": "hacked",
                "role": "admin",
                "active": "0",
                "password": "hacked password",
                "label": "Hacked",
                "ids": str(ids["contact"]),
                "source": ids["tag"],
                "target": ids["tag"],
            }
            resp = viewer_client.open(url, method=method, data=data)
            assert resp.status_code == 403, f"{method} {rule.rule} ({rule.endpoint})"
            checked.append(rule.endpoint)
    assert {"tags.update", "tags.merge", "admin.user_new"} <= set(checked)
    assert _snapshot(app, ids["contact"]) == before


def test_a_viewer_may_change_their_own_settings(app, viewer_client, users):
    resp = viewer_client.post("/account/language", data={"language": "ru"})
    assert resp.status_code == 302
    with app.app_context():
        assert db.session.get(User, users["viewer"]).language == "ru"


# -- CSRF ---------------------------------------------------------------------------------


@pytest.fixture
def csrf_on(app):
    app.config["WTF_CSRF_ENABLED"] = True
    yield
    app.config["WTF_CSRF_ENABLED"] = False


def test_a_post_without_csrf_token_is_refused(app, editor_client, users, csrf_on):
    ids = sample_ids(app, users)
    before = _snapshot(app, ids["contact"])
    url = f"/tags/{ids['tag']}"
    resp = editor_client.post(url, data={"name": "renamed"})
    assert resp.status_code == 400
    resp = editor_client.post(url, data={"name": "renamed", "csrf_token": "forged"})
    assert resp.status_code == 400
    assert _snapshot(app, ids["contact"]) == before

    token = csrf_from(editor_client.get("/tags/").get_data(as_text=True))
    resp = editor_client.post(url, data={"name": "renamed", "csrf_token": token})
    assert resp.status_code == 302
    assert _snapshot(app, ids["contact"])["tags"] == ["renamed"]
    # HTMX sends the token in a header, from hx-headers on <body>.
    resp = editor_client.post(
        url, data={"name": "again"}, headers={"HX-Request": "true", "X-CSRFToken": token}
    )
    assert resp.status_code == 200
    assert _snapshot(app, ids["contact"])["tags"] == ["again"]


def test_every_page_carries_the_csrf_token_for_htmx(app, editor_client):
    page = editor_client.get("/tags/").get_data(as_text=True)
    assert re.search(r'<body[^>]*hx-headers=\'\{"X-CSRFToken": "[^"]+"\}\'', page)


def test_login_form_needs_csrf_token_too(app, client, users, csrf_on):
    resp = client.post("/login", data={"email": "admin@example.com", "password": PASSWORD})
    assert resp.status_code == 400
    token = csrf_from(client.get("/login").get_data(as_text=True))
    resp = client.post(
        "/login", data={"email": "admin@example.com", "password": PASSWORD, "csrf_token": token}
    )
    assert resp.status_code == 302


# -- headers and cookies ------------------------------------------------------------------


def _directives(csp: str) -> dict[str, list[str]]:
    parts = (d.strip().split() for d in csp.split(";") if d.strip())
    return {p[0]: p[1:] for p in parts}


def test_security_headers_on_a_normal_page(editor_client):
    for url in ("/", "/tags/", "/account/"):
        resp = editor_client.get(url)
        assert resp.status_code == 200, url
        csp = _directives(resp.headers["Content-Security-Policy"])
        script_src = csp.get("script-src", csp.get("default-src"))
        assert script_src, "no script-src"
        assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
        assert "*" not in script_src
        assert csp["frame-ancestors"] == ["'none'"]
        assert resp.headers["X-Frame-Options"] == "DENY"
        assert resp.headers["X-Content-Type-Options"] == "nosniff"


def test_session_cookie_is_httponly_and_samesite_lax(client, users):
    resp = login(client, "editor@example.com")
    cookies = [c for c in resp.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert cookies, "login sets no session cookie"
    attributes = {a.strip().lower() for a in cookies[0].split(";")}
    assert "httponly" in attributes
    assert "samesite=lax" in attributes


# -- no inline script in any template -----------------------------------------------------

EVENT_ATTR = re.compile(
    r"\son(?:abort|auxclick|blur|cancel|change|click|close|contextmenu|copy|cut|dblclick|drag\w*"
    r"|drop|error|focus\w*|input|invalid|key\w+|load\w*|mouse\w+|paste|pointer\w+|reset|resize"
    r"|scroll|search|select|submit|toggle|touch\w+|wheel|animation\w+|transition\w+|begin|end"
    r"|show|hashchange|message|popstate|storage|unload|beforeunload|beforeinput)\s*=",
    re.IGNORECASE,
)
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc\s*=)[^>]*>", re.IGNORECASE)


def test_templates_contain_no_inline_script():
    root = Path(resource_dir("templates"))
    files = [p for p in root.rglob("*") if p.is_file()]
    assert len(files) >= 10
    problems = []
    for path in files:
        text = path.read_text(encoding="utf-8")
        name = path.relative_to(root)
        for pattern, what in (
            (INLINE_SCRIPT, "inline <script>"),
            (EVENT_ATTR, "on<event>= attribute"),
            (re.compile(r"hx-on", re.I), "hx-on"),
            (re.compile(r"javascript:", re.I), "javascript: URL"),
        ):
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                problems.append(f"{name}:{line}: {what}")
    assert not problems, "\n".join(problems)


# -- body size ----------------------------------------------------------------------------


def test_a_body_over_the_limit_gets_413_and_changes_nothing(app, editor_client, users):
    limit = app.config["MAX_CONTENT_LENGTH"]
    assert 0 < limit <= 100 * 1024 * 1024
    body = b"language=ru&x=" + b"a" * limit
    resp = editor_client.post(
        "/account/language", data=body, content_type="application/x-www-form-urlencoded"
    )
    assert resp.status_code == 413
    resp = editor_client.post(
        "/account/language", data={"upload": (__import__("io").BytesIO(b"a" * limit), "big.csv")}
    )
    assert resp.status_code == 413
    with app.app_context():
        assert db.session.get(User, users["editor"]).language is None


# -- user-typed text is shown, never run --------------------------------------------------


def _assert_escaped(page: str, payload: str, where: str):
    assert payload not in page, f"raw {payload!r} on {where}"
    assert "<img src=x" not in page and "<script>alert" not in page, where
    escaped = payload.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    # Jinja escapes quotes too, as &#34; (or &quot;); compare without the quotes.
    visible = escaped.replace('"', "")
    page_unquoted = page.replace("&#34;", "").replace("&quot;", "")
    assert visible in page_unquoted, f"{payload!r} is not shown on {where}"


def test_script_in_contact_fields_is_shown_as_text(app, editor_client, users):
    with app.app_context():
        raw = {
            "first_name": SCRIPT,
            "last_name": IMG,
            "company": IMG,
            "notes": f"{SCRIPT} {IMG}",
        }
        contact = create_contact(db.session, validate(raw), users["editor"])
        db.session.commit()
        contact_id = contact.id
    listing = editor_client.get("/")
    assert listing.status_code == 200
    for payload in (SCRIPT, IMG):
        _assert_escaped(listing.get_data(as_text=True), payload, "the contact list")
    page = editor_client.get(f"/contacts/{contact_id}")
    assert page.status_code == 200
    for payload in (SCRIPT, IMG):
        _assert_escaped(page.get_data(as_text=True), payload, "the contact page")


def test_script_in_a_tag_name_is_shown_as_text(app, editor_client, users):
    with app.app_context():
        contact = create_contact(db.session, validate({"first_name": "Anna"}), users["editor"])
        for name in (SCRIPT, IMG):
            tags_core.add_tag(db.session, contact, tags_core.get_or_create(db.session, name), None)
        db.session.commit()
        contact_id = contact.id
    for url in ("/tags/", f"/contacts/{contact_id}"):
        page = editor_client.get(url).get_data(as_text=True)
        for payload in (SCRIPT, IMG):
            _assert_escaped(page, payload, url)


def test_script_in_a_user_name_is_shown_as_text(app, admin_client, users):
    with app.app_context():
        db.session.get(User, users["viewer"]).name = SCRIPT + IMG
        db.session.commit()
    page = admin_client.get("/admin/users").get_data(as_text=True)
    _assert_escaped(page, SCRIPT, "the users page")
    _assert_escaped(page, IMG, "the users page")
    # The name in the viewer's own menu.
    viewer = app.test_client()
    login(viewer, "viewer@example.com")
    page = viewer.get("/account/").get_data(as_text=True)
    _assert_escaped(page, SCRIPT, "the menu")
