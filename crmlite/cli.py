"""The `crmlite` command: a FlaskGroup, so `flask --app crmlite ...` works too.

Outside scripts rely on these names: `crmlite run [--host H] [--port P]`, `crmlite worker`,
`crmlite db upgrade`, `crmlite users create EMAIL --role admin|editor|viewer [--name NAME]`,
`crmlite demo --contacts N [--seed S]`, `crmlite plugins list|enable NAME|disable NAME`.
"""

import logging
import os
import signal
import subprocess
import sys
import threading

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, ScriptInfo, pass_script_info, with_appcontext

from . import __version__
from .extensions import db

users_cli = click.Group("users", help="Manage users.")


@users_cli.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice(["admin", "editor", "viewer"]), required=True)
@click.option("--name", default="", help="Display name.")
@with_appcontext
def users_create(email: str, role: str, name: str) -> None:
    """Create a user; the password is asked for, or read from stdin when it is not a terminal."""
    from .core.users import UserError, create_user

    if sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    try:
        user = create_user(db.session, email, password, role, name)
    except UserError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    click.echo(f"Created {user.role} {user.email}.")


@click.command("demo")
@click.option("--contacts", "count", type=click.IntRange(min=1), default=1000, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option(
    "--interactions-per-contact",
    "per_contact",
    type=click.FloatRange(min=0),
    default=2.0,
    show_default=True,
    help="Average size of each contact's chronicle (purchases, notes, calls...); 0: none.",
)
@with_appcontext
def demo(count: int, seed: int, per_contact: float) -> None:
    """Fill the database with realistic demo contacts (Russian and English) and their
    chronicle."""
    import time

    from .core.demo import generate

    started = time.perf_counter()
    with click.progressbar(length=count, label="Creating contacts") as bar:
        made = generate(
            db.session,
            count,
            seed,
            region=current_app.config["DEFAULT_REGION"],
            progress=bar.update,
            interactions_per_contact=per_contact,
        )
    click.echo(f"Created {made} contacts in {time.perf_counter() - started:.1f} s.")


plugins_cli = click.Group("plugins", help="List, enable and disable plugins.")


def _require_schema() -> None:
    problem = schema_problem(current_app._get_current_object())
    if problem:
        raise click.ClickException(problem)


def _plugin_rows() -> list[tuple[str, ...]]:
    from .core.plugin_settings import states
    from .plugins import current_plugin_manager

    _require_schema()
    saved = states(db.session)
    rows = []
    for info in current_plugin_manager().crmlite_infos:
        state = saved.get(info.name)
        enabled = state.enabled if state else True
        shown = "yes" if enabled else "no"
        if enabled != info.enabled:
            shown += " (after restart)"
        rows.append((info.name, info.version or "-", info.source, shown, ", ".join(info.hooks)))
    return rows


@plugins_cli.command("list")
@with_appcontext
def plugins_list() -> None:
    """Show every plugin: name, version, source (builtin, pip, folder), enabled, hooks."""
    rows = [("NAME", "VERSION", "SOURCE", "ENABLED", "HOOKS"), *_plugin_rows()]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        click.echo(
            "  ".join(
                [*(cell.ljust(w) for cell, w in zip(row[:4], widths, strict=True)), row[4]]
            ).rstrip()
        )


def _switch_plugin(name: str, enabled: bool) -> None:
    from .core.plugin_settings import set_enabled
    from .plugins import current_plugin_manager, plugin_info

    pm = current_plugin_manager()
    if plugin_info(pm, name) is None:
        known = ", ".join(info.name for info in pm.crmlite_infos) or "none"
        click.echo(f"Error: no plugin named {name!r}. Installed plugins: {known}.", err=True)
        sys.exit(2)
    _require_schema()
    changed = set_enabled(db.session, name, enabled)
    db.session.commit()
    word = "enabled" if enabled else "disabled"
    if changed:
        click.echo(f"Plugin {name} {word}; this takes effect after crmlite restarts.")
    else:
        click.echo(f"Plugin {name} was already {word}.")


@plugins_cli.command("enable")
@click.argument("name")
@with_appcontext
def plugins_enable(name: str) -> None:
    """Enable a plugin (takes effect after crmlite restarts)."""
    _switch_plugin(name, True)


@plugins_cli.command("disable")
@click.argument("name")
@with_appcontext
def plugins_disable(name: str) -> None:
    """Disable a plugin (takes effect after crmlite restarts)."""
    _switch_plugin(name, False)


def schema_problem(app: Flask) -> str | None:
    """Why the database cannot be served yet (not migrated, or migrated by another version)."""
    from alembic.migration import MigrationContext
    from alembic.script import ScriptDirectory

    with app.app_context():
        script = ScriptDirectory.from_config(app.extensions["migrate"].migrate.get_config())
        expected = set(script.get_heads())
        with db.engine.connect() as conn:
            current = set(MigrationContext.configure(conn).get_current_heads())
    if current == expected:
        return None
    if not current:
        return "The database has no tables yet. Run `crmlite db upgrade` first."
    return (
        f"The database is at revision {', '.join(sorted(current))}, this crmlite expects "
        f"{', '.join(sorted(expected))}. Run `crmlite db upgrade` first."
    )


@click.command("run")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=5000,
    type=click.IntRange(0, 65535),
    show_default=True,
    help="Port to listen on (0: any free port).",
)
@click.option("--threads", default=8, type=click.IntRange(min=1), show_default=True)
@click.option(
    "--worker/--no-worker",
    "with_worker",
    default=True,
    show_default=True,
    help="Also run one background worker (`crmlite worker`) for imports and other jobs.",
)
@pass_script_info
def run(info: ScriptInfo, host: str, port: int, threads: int, with_worker: bool) -> None:
    """Serve crmlite (waitress, a production WSGI server) and run one background worker."""
    from waitress.server import create_server

    from .core.users import has_users, setup_token

    app = info.load_app()
    problem = schema_problem(app)
    if problem:
        raise click.ClickException(problem)
    # No app context stays open while serving: it would hold a database connection for good.
    with app.app_context():
        needs_setup = not has_users(db.session)
        db.session.remove()

    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s")
    try:
        server = create_server(app, host=host, port=port, threads=threads, ident="crmlite")
    except OSError as exc:
        raise click.ClickException(
            f"Cannot listen on {host}:{port}: {exc.strerror or exc}"
        ) from None
    listen = getattr(server, "effective_listen", None) or [
        (server.effective_host, server.effective_port)
    ]
    urls = [f"http://{h if ':' not in str(h) else f'[{h}]'}:{p}" for h, p in listen]

    # Printed once the socket listens, so a script may wait for this line, then connect.
    if needs_setup:
        click.echo(
            f"\n  No users yet. Open {urls[0]}/setup and type this setup token: "
            f"{setup_token(app.instance_path)}\n"
        )
    click.echo(
        f"crmlite {__version__} ({_dialect(app)} database) serving on {' '.join(urls)}"
        "  (Ctrl+C to stop)"
    )
    # A service manager stops us with SIGTERM: close the sockets as Ctrl+C does, exit 0.
    signal.signal(signal.SIGTERM, _interrupt)
    worker_process = None
    try:
        if with_worker and not app.config.get("JOBS_IMMEDIATE"):
            worker_process = _start_worker()
        server.run()  # returns on Ctrl+C (waitress catches the KeyboardInterrupt)
    finally:
        server.close()
        if worker_process is not None:
            _stop_worker(worker_process)
    click.echo("Stopped.")


def _start_worker() -> subprocess.Popen:
    """`crmlite worker` as a child that stops with us.

    Its own session, so a terminal's Ctrl+C reaches only us and we stop it with SIGTERM (a
    prompt stop: a running job is marked interrupted and can be re-run). Its stdin is a pipe
    we hold: if we die without stopping it, it reads EOF and stops itself.
    """
    code = "from crmlite.cli import main; main()"
    process = subprocess.Popen(
        [sys.executable, "-c", code, "worker", "--stop-with-parent"],
        stdin=subprocess.PIPE,
        start_new_session=True,
    )
    click.echo(f"Background worker started (pid {process.pid}).")

    def watch() -> None:
        code = process.wait()
        if not getattr(process, "crmlite_stopping", False):
            click.echo(
                f"The background worker exited (code {code}); jobs wait until a worker runs. "
                "Restart crmlite run, or start `crmlite worker`.",
                err=True,
            )

    threading.Thread(target=watch, daemon=True).start()
    return process


def _stop_worker(process: subprocess.Popen, timeout: float = 10) -> None:
    process.crmlite_stopping = True
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if process.stdin:
        process.stdin.close()


@click.command("worker")
@click.option(
    "--threads",
    default=2,
    type=click.IntRange(min=1),
    show_default=True,
    help="How many jobs this worker runs at once.",
)
@click.option("--stop-with-parent", is_flag=True, hidden=True)
@pass_script_info
def worker(info: ScriptInfo, threads: int, stop_with_parent: bool) -> None:
    """Run background jobs (imports, scans, sends) until stopped.

    Jobs come from the SQLite queue in the instance folder, or from Redis when
    CRMLITE_REDIS_URL is set (then workers may run on several machines). Ctrl+C waits for
    running jobs to finish; SIGTERM stops at once and marks them interrupted, to be re-run.
    """
    from .jobs import describe_queue, get_huey

    app = info.load_app()
    problem = schema_problem(app)
    if problem:
        raise click.ClickException(problem)
    huey = get_huey(app)
    if huey.immediate:
        raise click.ClickException("JOBS_IMMEDIATE is set: jobs run at once, a worker has no use.")

    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("crmlite.jobs").setLevel(logging.INFO)
    # Idle polling of the SQLite queue: at most a second before a new job starts.
    consumer = huey.create_consumer(workers=threads, worker_type="thread", max_delay=1.0)
    if stop_with_parent:
        threading.Thread(target=_stop_on_stdin_eof, daemon=True).start()
    click.echo(
        f"crmlite {__version__} worker: {threads} thread(s), {_dialect(app)} database, "
        f"queue in {describe_queue(app)}  (Ctrl+C to stop)"
    )
    consumer.run()
    click.echo("Worker stopped.")


def _stop_on_stdin_eof() -> None:
    # The raw descriptor, not sys.stdin: a daemon thread blocked in a buffered read aborts the
    # interpreter at exit ("could not acquire lock").
    while os.read(0, 4096):
        pass
    os.kill(os.getpid(), signal.SIGTERM)


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _dialect(app: Flask) -> str:
    return app.config["SQLALCHEMY_DATABASE_URI"].split(":", 1)[0].split("+", 1)[0]


# == import / export ==
@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--importer", "importer_name", default=None, help="Importer name (default: detect).")
@click.option(
    "--map",
    "maps",
    multiple=True,
    metavar="COLUMN=FIELD",
    help="Map a column (header or 1-based number) to a field; repeatable.",
)
@click.option("--dry-run", is_flag=True, help="Show what would happen; write nothing.")
@click.option(
    "--kind",
    type=click.Choice(["contacts", "purchases"]),
    default="contacts",
    show_default=True,
    help="What the rows are. Purchases: contact's external id, e-mail or phone; date; amount; "
    "currency, items, order number (fields external_id, email, phone, date, amount, currency, "
    "text, order).",
)
@with_appcontext
def import_command(
    file: str, importer_name: str | None, maps: tuple[str, ...], dry_run: bool, kind: str
):
    """Import contacts (or, with --kind purchases, purchases) from FILE (CSV, or any format
    an installed plugin reads)."""
    import os

    from .core import importing

    pm = current_app.extensions["crmlite.plugins"]
    overrides = {}
    for item in maps:
        column, sep, field = item.partition("=")
        if not sep:
            raise click.BadParameter(f"{item!r}: use COLUMN=FIELD", param_hint="--map")
        overrides[column.strip()] = field.strip()
    path = os.path.abspath(file)
    try:
        imp = importing.create_import(
            db.session,
            pm,
            path,
            os.path.basename(file),
            None,
            importer_name=importer_name,
            region=current_app.config["DEFAULT_REGION"],
            overrides=overrides,
            kind=kind,
            currency=current_app.config.get("DEFAULT_CURRENCY"),
        )
        db.session.commit()
        headers = imp.options.get("headers")
        if headers:
            encoding, sep = imp.options.get("encoding"), imp.options.get("delimiter")
            click.echo(f"Columns ({encoding}, separator {sep!r}):")
            for header, target in zip(headers, imp.options["mapping"], strict=False):
                click.echo(f"  {header!r:40} -> {target or '(ignored)'}")
        preview = importing.dry_run(db.session, pm, db.session.get(importing.Import, imp.id))
        db.session.commit()
    except importing.ImportProblem as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from None
    counts = preview["counts"]
    purchases = kind == "purchases"
    if purchases:
        click.echo(
            f"Dry run of {preview['total']} rows: {counts.get('create', 0)} purchases to add, "
            f"{counts.get('unchanged', 0)} already imported, {counts.get('error', 0)} rejected."
        )
    else:
        click.echo(
            f"Dry run of {preview['total']} rows: {counts.get('create', 0)} to create "
            f"({counts.get('duplicate', 0)} possible duplicates), "
            f"{counts.get('update', 0)} to update, "
            f"{counts.get('unchanged', 0)} unchanged, {counts.get('error', 0)} rejected."
        )
    for entry in preview["errors"]:
        click.echo(f"  row {entry['row']}: {entry['reason']}")
    if dry_run:
        db.session.delete(db.session.get(importing.Import, imp.id))
        db.session.commit()
        return
    with click.progressbar(length=preview["total"] or 1, label="Importing") as bar:
        done = [0]

        def progress(n, total=None):
            bar.update(n - done[0])
            done[0] = n

        try:
            counts = importing.run(db.session, pm, imp.id, None, progress=progress)
        except Exception as exc:
            importing.mark_failed(db.session, imp.id, str(exc))
            raise click.ClickException(
                f"Import #{imp.id} stopped: {exc}. Rows up to "
                f"{db.session.get(importing.Import, imp.id).committed_row} are imported."
            ) from None
    if purchases:
        click.echo(
            f"Import #{imp.id}: {counts.get('create', 0)} purchases added, "
            f"{counts.get('unchanged', 0)} already imported, {counts.get('error', 0)} rejected."
        )
    else:
        click.echo(
            f"Import #{imp.id}: {counts.get('create', 0)} created, "
            f"{counts.get('update', 0)} updated, "
            f"{counts.get('unchanged', 0)} unchanged, {counts.get('error', 0)} rejected."
        )
    if counts.get("error"):
        click.echo(f"The rejected rows and reasons: the import's page, /imports/{imp.id}.")
    if not purchases and (counts.get("create") or counts.get("update")):
        with click.progressbar(length=1, label="Checking for duplicates") as bar:

            def checked(n, total=None):
                bar.length = total or 1
                bar.update(n - bar.pos)

            importing.check_duplicates(db.session, pm, imp.id, progress=checked)
        click.echo("Possible duplicates are listed on /duplicates.")


@click.command("export")
@click.argument("file", type=click.Path(dir_okay=False, writable=True))
@click.option("--format", "fmt", default="csv", show_default=True, help="csv, or vcard (plugin).")
@click.option(
    "--segment",
    default=None,
    help="Only the contacts of this segment (saved:<id> for a saved one).",
)
@with_appcontext
def export_command(file: str, fmt: str, segment: str | None) -> None:
    """Export contacts to FILE (all of them, or one segment's)."""
    from .core import exporting, listing

    pm = current_app.extensions["crmlite.plugins"]
    found = exporting.exporters(pm)
    if fmt not in found:
        raise click.ClickException(
            f"No exporter {fmt!r}; available: {', '.join(sorted(found)) or 'none'}."
        )
    region = current_app.config["DEFAULT_REGION"]
    try:
        if segment and segment.startswith("saved:"):
            # A saved segment (core/saved_segments.py) by its id: --segment saved:12
            from .core import saved_segments

            saved_id = segment.partition(":")[2]
            if not saved_id.isdigit():
                raise click.ClickException("Give a saved segment as saved:<id>, e.g. saved:12.")
            ids = saved_segments.contact_ids(db.session, int(saved_id), region)
        elif segment:
            ids = exporting.segment_ids(pm, segment, region)
        else:
            ids = listing.filtered_ids(listing.ContactFilter(), region)
    except (exporting.ExportProblem, LookupError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    options = exporting.layout(db.session, ids)
    n = 0

    def counted():
        nonlocal n
        for row in exporting.records(db.session, ids):
            n += 1
            yield row

    with open(file, "wb") as out:
        for chunk in exporting.stream(found[fmt], counted(), options):
            out.write(chunk)
    click.echo(f"Exported {n} contacts to {file}.")


# == end import / export ==


# == audit (data review) ==

audit_cli = click.Group("audit", help="The data review audit.")


@audit_cli.command("run")
@click.option("--no-revalidate", is_flag=True, help="Skip re-checking e-mails and phones.")
@with_appcontext
def audit_run(no_revalidate: bool) -> None:
    """Run the audit now: re-check e-mails and phones, remind owners, send digests."""
    from .core import audit

    _require_schema()
    result = audit.run_audit(
        db.session,
        current_app.extensions["crmlite.plugins"],
        base_url=current_app.config.get("BASE_URL") or "",
        revalidate=not no_revalidate,
    )
    db.session.commit()
    for line in audit.report_lines(result):
        click.echo(line)


# == end audit ==


# == dedup (duplicate finder) ==

dedup_cli = click.Group("dedup", help="Find duplicate contacts.")


@dedup_cli.command("scan")
@with_appcontext
def dedup_scan() -> None:
    """Scan the whole base for duplicates now (in the foreground); print counts and time."""
    from .core import dedup

    _require_schema()
    result = dedup.scan(db.session, pm=current_app.extensions["crmlite.plugins"])
    click.echo(
        f"Scanned {result['contacts']} contacts in {result['seconds']} s: "
        f"{result['compared']} pairs compared, {result['pairs']} possible duplicates "
        f"({result['new']} new, {result['updated']} updated, {result['removed']} gone)."
    )


@dedup_cli.command("candidates")
@click.option("--min-score", type=click.IntRange(0, 100), default=0, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["csv"]), default="csv", show_default=True)
@with_appcontext
def dedup_candidates(min_score: int, fmt: str) -> None:
    """Write the open candidate pairs, best first, to stdout."""
    import csv

    from .core import dedup

    _require_schema()
    writer = csv.DictWriter(sys.stdout, fieldnames=dedup.CANDIDATE_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in dedup.candidates(db.session, min_score=min_score):
        writer.writerow(row)


# == end dedup ==


# == privacy (GDPR, 152-FZ) ==

privacy_cli = click.Group("privacy", help="Privacy requests: export or erase one person's data.")


def _admin_by_email(email: str):
    from .core.users import find_by_email

    user = find_by_email(db.session, email)
    if user is None or not user.is_admin or not user.active:
        raise click.ClickException(f"{email} is not an active admin.")
    return user


@privacy_cli.command("export")
@click.argument("contact_id", type=int)
@click.argument("file", type=click.Path(dir_okay=False, writable=True))
@click.option("--by", "by_email", required=True, help="The admin's e-mail (for the log).")
@with_appcontext
def privacy_export(contact_id: int, file: str, by_email: str) -> None:
    """Write one contact's data as a ZIP (contact.json and CSVs); logged."""
    from .core import privacy

    _require_schema()
    user = _admin_by_email(by_email)
    try:
        data = privacy.export_archive(db.session, contact_id, user.id)
    except privacy.PrivacyError as exc:
        raise click.ClickException(str(exc)) from None
    with open(file, "wb") as out:
        out.write(data)
    db.session.commit()
    click.echo(f"Exported contact #{contact_id} to {file}.")


@privacy_cli.command("erase")
@click.argument("contact_id", type=int)
@click.option("--reason", required=True, help="Why (the request and its date).")
@click.option("--by", "by_email", required=True, help="The admin's e-mail (for the log).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def privacy_erase(contact_id: int, reason: str, by_email: str, yes: bool) -> None:
    """Erase one contact's personal data in place (final); purchases are kept."""
    from .core import privacy

    _require_schema()
    user = _admin_by_email(by_email)
    if not yes:
        click.confirm(f"Erase the personal data of contact #{contact_id}? It is final", abort=True)
    try:
        privacy.erase(db.session, contact_id, user.id, reason)
    except privacy.PrivacyError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    click.echo(f"Erased the personal data of contact #{contact_id}; purchases are kept.")


# == end privacy ==


def register_commands(app: Flask) -> None:
    app.cli.add_command(users_cli)
    app.cli.add_command(demo)
    app.cli.add_command(plugins_cli)
    app.cli.add_command(import_command)
    app.cli.add_command(export_command)
    app.cli.add_command(audit_cli)
    app.cli.add_command(dedup_cli)
    app.cli.add_command(privacy_cli)


def _create_app() -> Flask:
    from .app import create_app

    return create_app()


cli = FlaskGroup(
    create_app=_create_app,
    add_default_commands=False,
    add_version_option=False,
    # Configuration comes from CRMLITE_* variables and instance/config.py, not .env files.
    load_dotenv=False,
    help="crmlite: a lightweight CRM for small teams.",
)
# --app, --env-file and --debug belong to `flask`; crmlite always serves its own app.
cli.params = [p for p in cli.params if p.name not in ("app", "env_file", "debug")]
cli = click.version_option(__version__, prog_name="crmlite", message="%(prog)s %(version)s")(cli)
cli.add_command(run)
cli.add_command(worker)


def main() -> None:
    cli(prog_name="crmlite")
