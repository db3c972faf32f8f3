"""The plugin contract: every hook documented and tested, and the setup, UI, settings and event
hooks seen working through a real single-file plugin in a temporary CRMLITE_PLUGINS_DIR."""

import inspect
import re
import shutil
import sys
from pathlib import Path

import pytest

from crmlite import hookspecs
from crmlite.app import create_app
from crmlite.core.plugin_settings import plugin_settings, stored_settings
from crmlite.extensions import db

from .conftest import login
from .test_contact_page import HX, NEW_CONTACT

TESTS = Path(__file__).resolve().parent
DOCS = TESTS.parent / "docs" / "plugins.md"


def hook_specs() -> dict[str, object]:
    return {
        name: fn
        for name, fn in vars(hookspecs).items()
        if callable(fn) and hasattr(fn, "crmlite_spec")
    }


def signature_text(name: str, fn) -> str:
    # "register_importers() -> list[Any]": the text a plugin author reads in docs/plugins.md.
    return f"{name}{inspect.signature(fn)}".replace("typing.", "")


def test_plugin_hooks_are_documented():
    docs = DOCS.read_text(encoding="utf-8")
    missing = [
        signature_text(name, fn)
        for name, fn in sorted(hook_specs().items())
        if signature_text(name, fn) not in docs
    ]
    assert not missing, "docs/plugins.md lacks the exact signature of: " + "; ".join(missing)
    # Every hook also has its own section and a docstring in hookspecs.py.
    for name, fn in hook_specs().items():
        assert re.search(rf"^### `{re.escape(name)}\(", docs, re.M), f"no section for {name}"
        assert (fn.__doc__ or "").strip(), f"{name} has no docstring"


def test_every_hook_has_a_test():
    defined = set()
    for path in TESTS.rglob("*.py"):
        defined |= set(re.findall(r"^\s*def (test_hook_\w+)\(", path.read_text("utf-8"), re.M))
    missing = sorted(n for n in hook_specs() if f"test_hook_{n}" not in defined)
    assert not missing, "hooks without a test_hook_<name> under tests/: " + ", ".join(missing)


# -- a real single-file plugin ------------------------------------------------------------


@pytest.fixture(scope="module")
def plugins_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("plugins")
    shutil.copy(TESTS / "plugins" / "hello.py", folder / "hello.py")
    return folder


def make_app(plugins_dir):
    return create_app(
        {
            "TESTING": True,
            "WTF_CSRF_ENABLED": False,
            "SECRET_KEY": "test",
            "PLUGINS_DIR": str(plugins_dir),
        }
    )


@pytest.fixture(scope="module")
def plugin_app(app, plugins_dir):
    """The same database as `app`, started with the hello plugin in CRMLITE_PLUGINS_DIR."""
    made = make_app(plugins_dir)
    yield made
    with made.app_context():
        db.engine.dispose()


@pytest.fixture
def hello(plugin_app):
    module = plugin_app.extensions["crmlite.plugins"].get_plugin("hello")
    module.EVENTS.clear()
    return module


def client_for(plugin_app, role):
    c = plugin_app.test_client()
    assert login(c, f"{role}@example.com").status_code == 302
    return c


def test_single_file_plugin_is_loaded_from_the_plugins_dir(plugin_app, hello, users):
    info = {i.name: i for i in plugin_app.extensions["crmlite.plugins"].crmlite_infos}["hello"]
    assert (info.source, info.version) == ("folder", "1.2.3")
    assert "contact_saved" in info.hooks and "register_blueprints" in info.hooks
    page = client_for(plugin_app, "admin").get("/admin/plugins").get_data(as_text=True)
    assert re.search(r"<strong>hello</strong></td>\s*<td>1.2.3</td>\s*<td>folder</td>", page)


def test_hook_startup(plugin_app, hello, users):
    page = client_for(plugin_app, "viewer").get("/hello").get_data(as_text=True)
    assert "started: yes" in page
    # historic: a plugin registered after startup is still called with the app.
    seen = []

    class Late:
        @staticmethod
        @hookspecs.hookimpl
        def startup(app):
            seen.append(app)

    pm = plugin_app.extensions["crmlite.plugins"]
    pm.register(Late, name="late")
    try:
        assert seen == [plugin_app]
    finally:
        pm.unregister(name="late")


def test_hook_register_blueprints(plugin_app, hello, users, app):
    resp = client_for(plugin_app, "viewer").get("/hello")
    assert resp.status_code == 200
    assert "<h1>Hello from a plugin</h1>" in resp.get_data(as_text=True)
    # A plugin's pages need login like every other page.
    assert plugin_app.test_client().get("/hello").status_code == 302
    # The app started without the plugin has no such page.
    assert client_for(app, "viewer").get("/hello").status_code == 404


def test_hook_register_commands(plugin_app, hello):
    result = plugin_app.test_cli_runner().invoke(args=["hello", "Anna"])
    assert result.exit_code == 0, result.output
    assert "Hello, Anna! (from the hello plugin)" in result.output
    listing = plugin_app.test_cli_runner().invoke(args=["--help"])
    assert "hello" in listing.output


def test_hook_menu_links(plugin_app, hello, users):
    admin_page = client_for(plugin_app, "admin").get("/").get_data(as_text=True)
    assert '<li><a href="/hello">Hello</a></li>' in admin_page
    viewer_page = client_for(plugin_app, "viewer").get("/").get_data(as_text=True)
    assert 'href="/hello"' not in viewer_page


def test_hook_register_settings(plugin_app, hello, users):
    admin = client_for(plugin_app, "admin")
    listing = admin.get("/admin/plugins").get_data(as_text=True)
    assert 'href="/admin/plugins/hello/settings"' in listing
    form = admin.get("/admin/plugins/hello/settings").get_data(as_text=True)
    for label in ("Greeting", "Times", "Loud", "Webhook", "Reply to", "API token"):
        assert label in form
    assert 'value="Hello from a plugin"' in form  # defaults filled in
    assert re.search(r'type="number" id="setting-times" name="times"\s*value="1"', form)

    good = {
        "greeting": "Привет",
        "times": "3",
        "loud": "1",
        "webhook": "https://hooks.example.com/x",
        "reply_to": "Sales <Sales@Example.com>",
        "token": "s3cret-token",
    }
    resp = admin.post("/admin/plugins/hello/settings", data=good)
    assert resp.status_code == 302
    page = admin.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Settings of hello saved; they apply at once." in page
    assert 'value="Привет"' in page and 'value="3"' in page
    # A password is never sent back to the browser.
    assert "s3cret-token" not in page
    assert "Saved; leave empty to keep it" in page
    # The plugin reads them at once (its page), typed by kind.
    assert "<h1>Привет</h1>" in admin.get("/hello").get_data(as_text=True)
    with plugin_app.app_context():
        values = plugin_settings(db.session, "hello")
    assert values == {
        "greeting": "Привет",
        "times": 3,
        "loud": True,
        "webhook": "https://hooks.example.com/x",
        "reply_to": "Sales <Sales@Example.com>",
        "token": "s3cret-token",
    }

    # Empty password keeps the saved one; an unticked checkbox is False.
    keep = {**good, "token": "", "times": "4"}
    del keep["loud"]
    assert admin.post("/admin/plugins/hello/settings", data=keep).status_code == 302
    with plugin_app.app_context():
        values = plugin_settings(db.session, "hello")
    assert (values["token"], values["loud"], values["times"]) == ("s3cret-token", False, 4)

    # Bad values: a message on each field, and nothing saved.
    bad = {
        "greeting": "Changed",
        "times": "three",
        "webhook": "ftp//nowhere",
        "reply_to": "not an address",
        "token": "",
    }
    resp = admin.post("/admin/plugins/hello/settings", data=bad)
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "Nothing was saved" in html
    assert "“three” is not a whole number." in html
    assert "“ftp//nowhere” is not a web address" in html
    assert "“not an address” is not a valid e-mail address." in html
    assert 'value="Changed"' in html  # what the user typed stays in the form
    with plugin_app.app_context():
        assert stored_settings(db.session, "hello")["greeting"] == "Привет"

    # Remove the saved password.
    clear = {**good, "token": "", "token__clear": "1"}
    assert admin.post("/admin/plugins/hello/settings", data=clear).status_code == 302
    with plugin_app.app_context():
        assert plugin_settings(db.session, "hello")["token"] == ""


def test_settings_pages_are_for_admins_only(plugin_app, hello, users):
    editor = client_for(plugin_app, "editor")
    assert editor.get("/admin/plugins").status_code == 403
    assert editor.get("/admin/plugins/hello/settings").status_code == 403
    assert editor.post("/admin/plugins/hello/settings", data={"times": "9"}).status_code == 403
    assert editor.post("/admin/plugins/hello/enabled", data={}).status_code == 403
    admin = client_for(plugin_app, "admin")
    assert admin.get("/admin/plugins/nope/settings").status_code == 404
    assert admin.post("/admin/plugins/nope/enabled", data={}).status_code == 404


def test_hook_contact_saved(plugin_app, hello, users):
    editor = client_for(plugin_app, "editor")
    resp = editor.post("/contacts/new", data=NEW_CONTACT)
    assert resp.status_code == 302
    contact_id = int(resp.headers["Location"].rsplit("/", 1)[1])
    assert hello.EVENTS == [("contact_saved", contact_id, "Анна", True)]

    resp = editor.post(
        f"/contacts/{contact_id}/field/first_name", data={"first_name": "Аня"}, headers=HX
    )
    assert resp.status_code == 200
    editor.post(f"/contacts/{contact_id}/tags", data={"tag": "VIP"}, headers=HX)
    editor.post(f"/contacts/{contact_id}/archive")
    assert hello.EVENTS[1:] == [
        ("contact_saved", contact_id, "Аня", False),
        ("contact_saved", contact_id, "Аня", False),
        ("contact_saved", contact_id, "Аня", False),
    ]
    # A refused edit saves nothing and tells no plugin.
    hello.EVENTS.clear()
    resp = editor.post(
        f"/contacts/{contact_id}/field/birth_date", data={"birth_date": "31.02.1990"}, headers=HX
    )
    assert resp.status_code == 422
    assert hello.EVENTS == []


def test_hook_contact_deleted(plugin_app, hello, users):
    admin = client_for(plugin_app, "admin")
    resp = admin.post("/contacts/new", data=NEW_CONTACT)
    contact_id = int(resp.headers["Location"].rsplit("/", 1)[1])
    resp = admin.post(f"/contacts/{contact_id}/delete")
    assert resp.status_code == 302
    assert hello.EVENTS[-1] == ("contact_deleted", contact_id)
    assert admin.get(f"/contacts/{contact_id}").status_code == 404


def test_disabling_a_plugin_applies_after_a_restart(plugin_app, plugins_dir, hello, users):
    admin = client_for(plugin_app, "admin")
    resp = admin.post("/admin/plugins/hello/enabled", data={}, headers=HX)
    assert resp.status_code == 200
    row = resp.get_data(as_text=True)
    assert "hello will be disabled after crmlite restarts." in row
    assert "Still running; disabled after crmlite restarts." in row
    # Truthfully still running in this process.
    assert admin.get("/hello").status_code == 200

    restarted = make_app(plugins_dir)
    try:
        again = client_for(restarted, "admin")
        assert again.get("/hello").status_code == 404
        page = again.get("/").get_data(as_text=True)
        assert 'href="/hello"' not in page
        plugins_page = again.get("/admin/plugins").get_data(as_text=True)
        row = re.search(r'<tr id="plugin-hello".*?</tr>', plugins_page, re.S).group(0)
        assert "Off" in row and "after crmlite restarts" not in row
        # A disabled plugin hears no events.
        again.post("/contacts/new", data=NEW_CONTACT)
        assert hello.EVENTS == []
        listing = restarted.test_cli_runner().invoke(args=["plugins", "list"])
        assert re.search(r"^hello\s+1\.2\.3\s+folder\s+no\s", listing.output, re.M)

        # Switched back on (no JS: a plain form post), pending until the next restart.
        resp = again.post("/admin/plugins/hello/enabled", data={"enabled": "1"})
        assert resp.status_code == 302
        page = again.get("/admin/plugins").get_data(as_text=True)
        assert "Not running now; enabled after crmlite restarts." in page
    finally:
        with restarted.app_context():
            db.engine.dispose()


def test_a_misspelled_hook_fails_at_startup_naming_it(app, tmp_path):
    shutil.copy(TESTS / "plugins" / "misspelled" / "typo.py", tmp_path / "typo.py")
    from crmlite.plugins import PluginError

    with pytest.raises(PluginError) as failure:
        make_app(tmp_path)
    message = str(failure.value)
    assert "Plugin 'typo' implements an unknown hook 'contact_savd'" in message
    assert "did you mean 'contact_saved'?" in message
    sys.modules.pop("crmlite_plugin_typo", None)
