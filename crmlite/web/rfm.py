"""The RFM page: the R x F grid (5 x 5) coloured by count, each cell a link to its contacts
in the standard list (?segment=rfm&seg_r=5&seg_f=4), and the classic RFM groups."""

from flask import Blueprint, url_for

from ..core import rfm
from ..extensions import db
from .htmx import render

bp = Blueprint("rfm", __name__, url_prefix="/rfm")


@bp.route("")
def index():
    cells = rfm.grid(db.session)
    levels = rfm.heat_levels(cells)
    labels = rfm.group_labels()
    rows = [
        {
            "r": r,
            "cells": [
                {
                    "f": f,
                    "count": cells[(r, f)],
                    "level": levels[(r, f)],
                    "group": labels[rfm.group_of(r, f)],
                    "url": url_for("contacts.index", segment="rfm", seg_r=r, seg_f=f),
                }
                for f in rfm.SCORES
            ],
        }
        for r in reversed(rfm.SCORES)  # R5 (most recent) on top
    ]
    totals = rfm.group_counts(cells)
    groups = [
        {
            "key": key,
            "label": labels[key],
            "count": totals[key],
            "cells": rfm.GROUPS[key],
            "url": url_for("contacts.index", segment="rfm_group", seg_group=key),
        }
        for key in rfm.GROUPS
    ]
    return render(
        "rfm/index.html",
        rows=rows,
        groups=groups,
        scores=rfm.SCORES,
        buyers=sum(cells.values()),
    )
