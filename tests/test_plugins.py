"""The plugins page, `crmlite plugins list|enable|disable`, plugin settings storage, and the
crmlite-birthdays plugin: its segment condition on real contacts, and a wheel of it installed
with pip into a fresh virtualenv next to crmlite's own wheel, seen in the CLI and on the page."""

import re
import sys
from datetime import date
from pathlib import Path

import pytest
from crmlite_birthdays import BirthdaySegment, register_segments
from sqlalchemy import select

from crmlite.core import contacts
from crmlite.core.plugin_settings import clean_value, plugin_settings, save_settings, states
from crmlite.extensions import db
from crmlite.models import Contact
from crmlite.plugins import PluginSettings, SettingField, make_plugin_manager

from .conftest import PASSWORD, csrf_from
from .serving import Client, clean_env, serving
from .test_wheel import ROOT, run, wheel  # noqa: F401  (wheel: the crmlite wheel fixture)

HX = {"HX-Request": "true"}


def infos(app) -> dict:
    return {i.name: i for i in app.extensions["crmlite.plugins"].crmlite_infos}


# -- the page -----------------------------------------------------------------------------


def test_plugins_page_lists_every_plugin_with_version_source_and_hooks(app, admin_client):
    page = admin_client.get("/admin/plugins").get_data(as_text=True)
    assert "<h1>Plugins</h1>" in page
    assert "takes effect after crmlite restarts" in page
    assert 'href="/admin/plugins"' in page  # the nav link for admins
    for info in infos(app).values():
        row = re.search(
            rf'<tr id="plugin-{re.escape(info.name.replace(".", "-"))}".*?</tr>', page, re.S
        )
        assert row, f"{info.name} is not on the page"
        assert f"<td>{info.version or '—'}</td>" in row.group(0)
        for hook in info.hooks:
            assert f"<code>{hook}</code>" in row.group(0)
    # The first-party plugin installed in this checkout (pip install -e).
    birthdays = infos(app)["crmlite_birthdays"]
    assert (birthdays.source, birthdays.version, birthdays.hooks) == (
        "pip",
        "0.1.0",
        ["register_segments"],
    )
    assert re.search(
        r"<strong>crmlite_birthdays</strong></td>\s*<td>0.1.0</td>\s*<td>pip</td>", page
    )
    # Builtins are plugins like any other.
    assert any(i.source == "builtin" for i in infos(app).values())


def test_only_admins_see_the_plugins_page(app, editor_client, viewer_client):
    for client in (editor_client, viewer_client):
        assert client.get("/admin/plugins").status_code == 403
        page = client.get("/").get_data(as_text=True)
        assert 'href="/admin/plugins"' not in page
    assert viewer_client.post("/admin/plugins/crmlite_birthdays/enabled").status_code == 403


def test_switch_is_stored_and_the_page_says_it_applies_after_a_restart(app, admin_client):
    resp = admin_client.post("/admin/plugins/crmlite_birthdays/enabled", data={}, headers=HX)
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert html.lstrip().startswith('<tr id="plugin-crmlite_birthdays"')
    assert "crmlite_birthdays will be disabled after crmlite restarts." in html  # OOB flash
    assert "Still running; disabled after crmlite restarts." in html
    assert "checked" not in re.search(r'<input type="checkbox"[^>]*>', html).group(0)
    with app.app_context():
        assert states(db.session)["crmlite_birthdays"].enabled is False
    # Still running in this process, as the page says.
    assert infos(app)["crmlite_birthdays"].enabled is True

    # Switching back before a restart: nothing pending any more.
    resp = admin_client.post(
        "/admin/plugins/crmlite_birthdays/enabled", data={"enabled": "1"}, headers=HX
    )
    html = resp.get_data(as_text=True)
    assert "crmlite_birthdays stays as it is running now." in html
    assert "after crmlite restarts." not in html.split("</tr>")[0]


# -- the command line ----------------------------------------------------------------------


def test_cli_plugins_list_shows_name_version_source_enabled_hooks(app):
    result = app.test_cli_runner().invoke(args=["plugins", "list"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["NAME", "VERSION", "SOURCE", "ENABLED", "HOOKS"]
    assert re.search(
        r"^crmlite_birthdays\s+0\.1\.0\s+pip\s+yes\s+register_segments$", result.output, re.M
    )
    for info in infos(app).values():
        assert re.search(
            rf"^{re.escape(info.name)}\s+\S+\s+{info.source}\s+yes\s", result.output, re.M
        )


def test_cli_disable_and_enable(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["plugins", "disable", "crmlite_birthdays"])
    assert result.exit_code == 0, result.output
    assert "Plugin crmlite_birthdays disabled; this takes effect after crmlite restarts." in (
        result.output
    )
    listing = runner.invoke(args=["plugins", "list"]).output
    assert re.search(r"^crmlite_birthdays\s+0\.1\.0\s+pip\s+no \(after restart\)\s", listing, re.M)
    # The page agrees.
    again = runner.invoke(args=["plugins", "disable", "crmlite_birthdays"])
    assert "already disabled" in again.output

    result = runner.invoke(args=["plugins", "enable", "crmlite_birthdays"])
    assert result.exit_code == 0
    assert "enabled" in result.output
    listing = runner.invoke(args=["plugins", "list"]).output
    assert re.search(r"^crmlite_birthdays\s+0\.1\.0\s+pip\s+yes\s", listing, re.M)


def test_cli_unknown_plugin_is_a_clear_error_with_exit_code_2(app):
    for command in ("enable", "disable"):
        result = app.test_cli_runner().invoke(args=["plugins", command, "crmlite_birthday"])
        assert result.exit_code == 2
        assert "no plugin named 'crmlite_birthday'" in result.output
        assert "crmlite_birthdays" in result.output  # the names that do exist
    with app.app_context():
        assert "crmlite_birthday" not in states(db.session)


def test_disabled_plugins_are_blocked_when_the_manager_is_built():
    pm = make_plugin_manager(None, {"crmlite_birthdays"})
    assert pm.get_plugin("crmlite_birthdays") is None
    assert not [s for group in pm.hook.register_segments() for s in group if s.key == "birthdays"]
    info = next(i for i in pm.crmlite_infos if i.name == "crmlite_birthdays")
    assert info.enabled is False  # still listed, so it can be switched back on


# -- settings storage ------------------------------------------------------------------------


def test_plugin_settings_fill_in_defaults_and_treat_empty_as_default(ctx):
    pm = make_plugin_manager()
    pm.crmlite_settings["demo"] = PluginSettings(
        "demo", [SettingField("host", "Host"), SettingField("port", "Port", "int", 587)]
    )
    assert plugin_settings(db.session, "demo", pm) == {"host": "", "port": 587}
    save_settings(db.session, "demo", {"host": "smtp.example.com", "port": ""})
    db.session.commit()
    assert plugin_settings(db.session, "demo", pm) == {"host": "smtp.example.com", "port": 587}


@pytest.mark.parametrize(
    ("kind", "raw", "expected"),
    [
        ("int", " 465 ", 465),
        ("bool", "on", True),
        ("bool", "", False),
        ("url", "https://api.telegram.org/bot", "https://api.telegram.org/bot"),
        ("email", "Boss@Example.COM", "boss@example.com"),
        ("email", "Отдел продаж <sales@example.com>", "Отдел продаж <sales@example.com>"),
        ("text", "  smtp.yandex.ru ", "smtp.yandex.ru"),
    ],
)
def test_setting_values_are_converted_by_kind(kind, raw, expected):
    assert clean_value(kind, raw) == expected


@pytest.mark.parametrize(
    ("kind", "raw"),
    [("int", "5.5"), ("int", ""), ("bool", "maybe"), ("url", "example.com"), ("email", "a@")],
)
def test_bad_setting_values_are_refused_with_a_message(kind, raw):
    with pytest.raises(ValueError) as refused:
        clean_value(kind, raw)
    assert str(refused.value)


# -- crmlite-birthdays ----------------------------------------------------------------------


def birthdays_between(app, params, today) -> list[str]:
    segment = BirthdaySegment()
    with app.app_context():
        names = db.session.scalars(
            select(Contact.first_name)
            .where(segment.condition(params, today))
            .order_by(Contact.first_name)
        )
        return list(names)


@pytest.fixture
def people(app):
    born = {
        "Dec24": date(1980, 12, 24),
        "Dec25": date(1975, 12, 25),
        "Dec31": date(1990, 12, 31),
        "Jan01": date(2001, 1, 1),
        "Jan08": date(1985, 1, 8),
        "Jan09": date(1985, 1, 9),
        "Feb29": date(2000, 2, 29),
        "Mar01": date(1999, 3, 1),
        "Jun15": date(1970, 6, 15),
    }
    with app.app_context():
        for name, birth in born.items():
            contacts.create_contact(
                db.session, contacts.validate({"first_name": name, "birth_date": birth}), None
            )
        contacts.create_contact(db.session, contacts.validate({"first_name": "Nobirth"}), None)
        db.session.commit()
    return born


def test_birthdays_plugin_registers_its_segment(app):
    (segment,) = register_segments()
    assert segment.key == "birthdays"
    assert segment.label == "Birthday in the next N days"
    (param,) = segment.params
    assert (param.name, param.label, param.kind, param.default) == ("days", "Days ahead", "int", 14)
    # The running app's plugin manager offers it through the hook.
    pm = app.extensions["crmlite.plugins"]
    keys = [s.key for group in pm.hook.register_segments() for s in group]
    assert "birthdays" in keys


def test_birthdays_across_new_year(app, people):
    # 25 December + 14 days: to 8 January, whatever the year of birth.
    assert birthdays_between(app, {"days": 14}, date(2024, 12, 25)) == [
        "Dec25",
        "Dec31",
        "Jan01",
        "Jan08",
    ]
    assert birthdays_between(app, {"days": "7"}, date(2024, 12, 31)) == ["Dec31", "Jan01"]


def test_birthdays_within_one_year_and_today_only(app, people):
    assert birthdays_between(app, {"days": 0}, date(2024, 6, 15)) == ["Jun15"]
    assert birthdays_between(app, {}, date(2024, 6, 1)) == ["Jun15"]  # 14 days by default
    # 29 February counts in a year without one: between 28 February and 1 March.
    assert birthdays_between(app, {"days": 1}, date(2023, 2, 28)) == ["Feb29", "Mar01"]
    assert birthdays_between(app, {"days": 1}, date(2024, 2, 28)) == ["Feb29"]
    # A year or more: everyone with a birth date.
    assert len(birthdays_between(app, {"days": 366}, date(2024, 6, 1))) == len(people)


def test_birthdays_days_out_of_range_and_not_a_number(app, people):
    assert birthdays_between(app, {"days": -5}, date(2024, 6, 15)) == ["Jun15"]  # today only
    assert len(birthdays_between(app, {"days": 5000}, date(2024, 6, 1))) == len(people)
    with pytest.raises(ValueError):
        BirthdaySegment().condition({"days": "soon"}, date(2024, 1, 1))


# -- a plugin wheel installed with pip, the way a user would ---------------------------------


@pytest.fixture(scope="module")
def birthdays_wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("plugin-wheel")
    run(
        [sys.executable, "-m", "pip", "wheel", "plugins/crmlite-birthdays", "--no-deps", "-w", out],
        cwd=ROOT,
    )
    (built,) = out.glob("crmlite_birthdays-*.whl")
    return built


def test_pip_installed_plugin_is_listed_by_the_cli_and_on_the_plugins_page(
    wheel,  # noqa: F811
    birthdays_wheel,
    tmp_path,
):
    home = tmp_path / "home"
    home.mkdir()
    run([sys.executable, "-m", "venv", "--without-pip", home / "venv"], cwd=home)
    bin_dir = home / "venv" / "bin"
    pip = [sys.executable, "-m", "pip", "--python", bin_dir / "python"]
    run(
        [*pip, "install", "--quiet", "--no-compile", wheel, birthdays_wheel],
        cwd=home,
        env=clean_env(),
    )

    env = clean_env(
        CRMLITE_DATABASE_URL="sqlite:///" + str(tmp_path / "crm.db"),
        CRMLITE_INSTANCE_PATH=str(tmp_path / "instance"),
    )
    crmlite = bin_dir / "crmlite"
    run([crmlite, "db", "upgrade"], cwd=home, env=env)
    listing = run([crmlite, "plugins", "list"], cwd=home, env=env).stdout
    assert re.search(
        r"^crmlite_birthdays\s+0\.1\.0\s+pip\s+yes\s+register_segments$", listing, re.M
    ), listing
    run(
        [crmlite, "users", "create", "boss@example.com", "--role", "admin"],
        cwd=home,
        env=env,
        input=PASSWORD + "\n",
    )
    with serving(crmlite, env, cwd=home) as server:
        http = Client(server.url)
        form = http.get("/login").text
        resp = http.post(
            "/login",
            {"email": "boss@example.com", "password": PASSWORD, "csrf_token": csrf_from(form)},
        )
        assert resp.status == 302, resp.text
        page = http.get("/admin/plugins")
        assert page.status == 200
        assert re.search(
            r"<strong>crmlite_birthdays</strong></td>\s*<td>0.1.0</td>\s*<td>pip</td>", page.text
        )
        assert "<code>register_segments</code>" in page.text
    assert server.process.returncode == 0, server.output
