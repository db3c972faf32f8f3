"""Import and export pages: upload -> column mapping -> dry run -> run -> report -> undo.

The dry run, the run and the undo are background jobs (crmlite.jobs); the import page
polls its status block while one is under way.
"""

from pathlib import Path

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from werkzeug.exceptions import RequestEntityTooLarge

from ..core import exporting, importing, listing, purchase_import, segments
from ..core.contacts import custom_fields
from ..core.import_mapping import target_choices
from ..extensions import db
from ..jobs import JobContext, enqueue, handler
from ..models import Import, ImportMapping, Job
from . import saved_segments as saved_segments_web
from .htmx import render

bp = Blueprint("imports", __name__, url_prefix="/imports")

DEFAULT_MAX_BYTES = 200 * 1024 * 1024


def _pm():
    return current_app.extensions["crmlite.plugins"]


def _import_or_404(import_id: int) -> Import:
    return db.session.get(Import, import_id) or abort(404)


def _require_editor() -> None:
    if not current_user.can_edit():
        abort(403)


def _max_bytes() -> int:
    return int(current_app.config.get("IMPORT_MAX_BYTES") or DEFAULT_MAX_BYTES)


# --- jobs ---------------------------------------------------------------------------


def _guarded(ctx: JobContext, work):
    import_id = ctx.params["import_id"]
    try:
        result = work(import_id)
    except Exception as exc:
        importing.mark_failed(ctx.session, import_id, str(exc))
        raise
    # The jobs page links to the import's page (no request here, so no url_for).
    return {**result, "url": f"/imports/{import_id}"}


@handler("import_dry_run", label=_l("Import check (dry run)"))
def dry_run_job(ctx: JobContext) -> dict:
    def work(import_id):
        imp = ctx.session.get(Import, import_id)
        preview = importing.dry_run(ctx.session, _pm(), imp, progress=ctx.progress)
        imp = ctx.session.get(Import, import_id)
        imp.status = "uploaded"
        ctx.session.commit()
        return preview["counts"]

    return _guarded(ctx, work)


@handler("import", label=_l("Import"))
def import_job(ctx: JobContext) -> dict:
    def work(import_id):
        counts = importing.run(
            ctx.session, _pm(), import_id, ctx.job.created_by_id, progress=ctx.progress
        )
        # The report is ready now; the duplicate finder then goes over the new contacts.
        importing.check_duplicates(ctx.session, _pm(), import_id, progress=ctx.progress)
        return counts

    return _guarded(ctx, work)


@handler("import_undo", label=_l("Import undo"))
def undo_job(ctx: JobContext) -> dict:
    return _guarded(
        ctx, lambda import_id: importing.undo(ctx.session, import_id, ctx.job.created_by_id)
    )


def _enqueue(kind: str, imp: Import) -> None:
    import_id = imp.id
    job = enqueue(kind, {"import_id": import_id}, current_user.id)
    imp = db.session.get(Import, import_id)
    imp.job_id = job.id
    db.session.commit()


# --- pages --------------------------------------------------------------------------


def _index(status: int = 200, error: str = ""):
    pm = _pm()
    return render(
        "imports/index.html",
        imports=importing.imports_page(db.session),
        importers=importing.importers(pm),
        exporters=exporting.exporters(pm),
        mappings=importing.saved_mappings(db.session),
        max_mb=_max_bytes() // (1024 * 1024),
        error=error,
    ), status


@bp.route("/")
def index():
    return _index()


@bp.route("/", methods=["POST"])
def upload():
    # Uploads may be bigger than other forms: the import limit applies here.
    request.max_content_length = _max_bytes()
    try:
        file = request.files.get("file")
    except RequestEntityTooLarge:
        return _index(413, _("The file is larger than %(mb)s MB.", mb=_max_bytes() // 2**20))
    if file is None or not file.filename:
        return _index(422, _("Choose a file to import."))
    saved = None
    if request.form.get("mapping"):
        saved = db.session.scalar(
            select(ImportMapping).where(ImportMapping.id == request.form.get("mapping", type=int))
        )
    folder = Path(current_app.instance_path) / "imports"
    try:
        path, _size = importing.store_upload(folder, file.stream, _max_bytes())
        imp = importing.create_import(
            db.session,
            _pm(),
            path,
            file.filename,
            current_user.id,
            importer_name=request.form.get("importer") or None,
            region=current_app.config["DEFAULT_REGION"],
            saved_mapping=saved.mapping if saved else None,
            kind=request.form.get("kind") or "contacts",
            currency=current_app.config.get("DEFAULT_CURRENCY"),
        )
    except importing.ImportProblem as exc:
        db.session.rollback()
        return _index(422, str(exc))
    db.session.commit()
    if imp.options.get("headers"):
        return redirect(url_for("imports.mapping", import_id=imp.id))
    _enqueue("import_dry_run", imp)
    return redirect(url_for("imports.show", import_id=imp.id))


def _mapping_page(imp: Import, status: int = 200, error: str = ""):
    headers = imp.options.get("headers") or []
    samples: list[list[str]] = [[] for _h in headers]
    importer = importing.importers(_pm()).get(imp.importer)
    if importer is not None and hasattr(importer, "table"):
        with open(imp.path, "rb") as f:
            _headers, rows = importer.table(f, dict(imp.options))
            for n, row in enumerate(rows):
                if n == 3:
                    break
                for i, cell in enumerate(row[: len(headers)]):
                    samples[i].append(cell)
    columns = list(zip(headers, imp.options.get("mapping") or [], samples, strict=False))
    if importing.is_purchases(imp):
        choices = purchase_import.target_choices()
    else:
        choices = target_choices(custom_fields(db.session))
    return render(
        "imports/mapping.html",
        imp=imp,
        columns=columns,
        choices=choices,
        purchases=importing.is_purchases(imp),
        error=error,
    ), status


@bp.route("/<int:import_id>/mapping")
def mapping(import_id: int):
    _require_editor()
    return _mapping_page(_import_or_404(import_id))


@bp.route("/<int:import_id>/mapping", methods=["POST"])
def mapping_save(import_id: int):
    imp = _import_or_404(import_id)
    if imp.status != "uploaded":
        abort(409)
    headers = imp.options.get("headers") or []
    targets = [request.form.get(f"col{i}", "") for i in range(len(headers))]
    try:
        importing.set_mapping(db.session, imp, targets)
        name = request.form.get("save_as", "").strip()
        if name:
            importing.save_mapping(db.session, imp, name, current_user.id)
            flash(_("Mapping “%(name)s” saved.", name=name), "success")
    except importing.ImportProblem as exc:
        db.session.rollback()
        return _mapping_page(_import_or_404(import_id), 422, str(exc))
    db.session.commit()
    _enqueue("import_dry_run", imp)
    return redirect(url_for("imports.show", import_id=import_id))


def _job(imp: Import) -> Job | None:
    return db.session.get(Job, imp.job_id) if imp.job_id else None


@bp.route("/<int:import_id>")
def show(import_id: int):
    imp = _import_or_404(import_id)
    job = _job(imp)
    busy = job is not None and job.status in ("queued", "running")
    return render(
        "imports/show.html",
        block="status" if request.args.get("poll") else None,
        imp=imp,
        job=job,
        busy=busy,
        counts=imp.counts or {},
        purchases=importing.is_purchases(imp),
    )


@bp.route("/<int:import_id>/dry-run", methods=["POST"])
def dry_run(import_id: int):
    imp = _import_or_404(import_id)
    if imp.status != "uploaded":
        abort(409)
    _enqueue("import_dry_run", imp)
    return redirect(url_for("imports.show", import_id=import_id))


@bp.route("/<int:import_id>/run", methods=["POST"])
def run(import_id: int):
    imp = _import_or_404(import_id)
    if imp.status not in ("uploaded", "failed"):
        abort(409)
    _enqueue("import", imp)
    return redirect(url_for("imports.show", import_id=import_id))


@bp.route("/<int:import_id>/undo", methods=["POST"])
def undo(import_id: int):
    imp = _import_or_404(import_id)
    if imp.status not in ("done", "failed", "undoing"):
        abort(409)
    _enqueue("import_undo", imp)
    return redirect(url_for("imports.show", import_id=import_id))


@bp.route("/<int:import_id>/rejected.csv")
def rejected(import_id: int):
    imp = _import_or_404(import_id)
    name = Path(imp.filename).stem or "import"
    return Response(
        stream_with_context(s.encode("utf-8") for s in importing.rejected_csv(db.session, imp)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{_ascii(name)}-rejected.csv"'},
    )


def _ascii(name: str) -> str:
    return "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in name)


@bp.route("/export")
def export():
    """All contacts, or those of the list filter in the query string, in the chosen format."""
    pm = _pm()
    found = exporting.exporters(pm)
    fmt = request.args.get("format") or "csv"
    exporter = found.get(fmt) or abort(404)
    region = current_app.config["DEFAULT_REGION"]
    # The list's own filter, segment included (an unknown segment matches nothing).
    flt, _problems = segments.bind(pm, listing.ContactFilter.from_args(request.args))
    flt, _problems = saved_segments_web.bind(flt)  # ?saved=<id>, if the user may see it
    ids = listing.filtered_ids(flt, region)
    options = exporting.layout(db.session, ids)
    body = exporting.stream(exporter, exporting.records(db.session, ids), options)
    return Response(
        stream_with_context(body),
        mimetype=exporter.mimetype,
        headers={"Content-Disposition": f'attachment; filename="contacts.{exporter.extension}"'},
    )
