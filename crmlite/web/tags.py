"""The tags page: counts, inline rename, colour, merge and delete."""

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from ..core import tags as tags_core
from ..extensions import db
from ..forms.tags import ColourForm, MergeForm, TagForm
from ..models import Tag
from .htmx import flashes_oob, fragment, is_htmx, render

bp = Blueprint("tags", __name__, url_prefix="/tags")


def _tag_or_404(tag_id: int) -> Tag:
    return db.session.get(Tag, tag_id) or abort(404)


def _require_editor() -> None:
    # POSTs are already refused to viewers globally; this covers the edit forms they GET.
    if not current_user.can_edit():
        abort(403)


def _count(tag: Tag) -> int:
    return tags_core.count(db.session, tag)


def _merge_form(rows) -> MergeForm:
    form = MergeForm()
    choices = [(tag.id, f"{tag.name} ({n})") for tag, n in rows]
    form.source.choices = choices
    form.target.choices = choices
    if len(choices) > 1 and not form.is_submitted():
        form.target.data = choices[1][0]  # two different tags by default
    return form


def _index(merge_form: MergeForm | None = None, status: int = 200):
    rows = tags_core.with_counts(db.session)
    if merge_form is None:
        merge_form = _merge_form(rows)
    else:
        merge_form.source.choices = merge_form.target.choices = [
            (tag.id, f"{tag.name} ({n})") for tag, n in rows
        ]
    return render("tags/index.html", rows=rows, merge_form=merge_form), status


@bp.route("/")
def index():
    return _index()


def _row(tag: Tag, count: int | None = None):
    count = _count(tag) if count is None else count
    return fragment("tags/_row.html", tag=tag, count=count)


@bp.route("/<int:tag_id>/row")
def row(tag_id: int):
    """The plain row again (the inline editor's Cancel)."""
    return _row(_tag_or_404(tag_id))


def _edit(tag: Tag, form: TagForm, status: int = 200):
    if is_htmx():
        return fragment("tags/_edit_row.html", tag=tag, form=form), status
    return render("tags/edit.html", tag=tag, form=form), status


@bp.route("/<int:tag_id>/edit")
def edit(tag_id: int):
    _require_editor()
    tag = _tag_or_404(tag_id)
    return _edit(tag, TagForm(obj=tag, formdata=None))


@bp.route("/<int:tag_id>", methods=["POST"])
def update(tag_id: int):
    tag = _tag_or_404(tag_id)
    form = TagForm()
    valid, colour = form.validate(), None
    if form.colour.data:
        try:
            colour = tags_core.clean_colour(form.colour.data)
        except tags_core.TagError as exc:
            form.colour.errors.append(str(exc))
            valid = False
    if valid:
        try:
            tags_core.rename(db.session, tag, form.name.data, colour)
        except tags_core.TagError as exc:
            db.session.rollback()
            tag = _tag_or_404(tag_id)
            form.name.errors.append(str(exc))
        else:
            db.session.commit()
            flash(_("Tag “%(name)s” saved.", name=tag.name), "success")
            if is_htmx():
                return _row(tag)
            return redirect(url_for("tags.index"))
    return _edit(tag, form, 422)


@bp.route("/<int:tag_id>/colour", methods=["POST"])
def colour(tag_id: int):
    tag = _tag_or_404(tag_id)
    form = ColourForm()
    try:
        tags_core.set_colour(db.session, tag, form.colour.data or "")
    except tags_core.TagError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        if is_htmx():
            return _row(_tag_or_404(tag_id)), 422
        return _index(status=422)
    db.session.commit()
    if is_htmx():
        return _row(tag)
    flash(_("Tag “%(name)s” saved.", name=tag.name), "success")
    return redirect(url_for("tags.index"))


@bp.route("/merge", methods=["POST"])
def merge():
    form = MergeForm()
    form.source.choices = form.target.choices = []  # ids are checked below
    if form.validate():
        source = db.session.get(Tag, form.source.data)
        target = db.session.get(Tag, form.target.data)
        if source is None or target is None:
            form.source.errors.append(_("This tag no longer exists; reload the page."))
        else:
            names = {"source": source.name, "target": target.name}
            try:
                tags_core.merge(db.session, source, target, current_user.id)
            except tags_core.TagError as exc:
                db.session.rollback()
                form.target.errors.append(str(exc))
            else:
                db.session.commit()
                flash(
                    _("Merged “%(source)s” into “%(target)s”.", **names)
                    + " "
                    + _("Every contact tagged “%(source)s” is now tagged “%(target)s”.", **names),
                    "success",
                )
                return redirect(url_for("tags.index"))
    return _index(form, 422)


@bp.route("/<int:tag_id>/delete", methods=["GET", "POST"])
def delete(tag_id: int):
    """GET asks for confirmation (without JS); HTMX posts straight after hx-confirm."""
    _require_editor()
    tag = _tag_or_404(tag_id)
    if request.method == "GET":
        return render("tags/delete.html", tag=tag, count=_count(tag))
    name = tag.name
    count = tags_core.delete_tag(db.session, tag, current_user.id)
    db.session.commit()
    flash(
        ngettext(
            "Tag “%(name)s” deleted and removed from %(num)s contact.",
            "Tag “%(name)s” deleted and removed from %(num)s contacts.",
            count,
            name=name,
        ),
        "success",
    )
    if is_htmx():
        return flashes_oob()  # an empty body: htmx removes the row
    return redirect(url_for("tags.index"))
