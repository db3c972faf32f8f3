from flask import Blueprint
from sqlalchemy import text

from ..extensions import db
from .security import public

bp = Blueprint("health", __name__)


@bp.route("/healthz")
@public
def healthz():
    db.session.execute(text("SELECT 1"))
    return {"status": "ok"}
