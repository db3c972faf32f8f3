"""One Blueprint per area."""

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from . import account, admin, auth, contact, contacts, health, jobs, plugins, tags

    for module in (auth, health, contacts, contact, tags, jobs, admin, account, plugins):
        app.register_blueprint(module.bp)
    from . import saved_segments, segments, sending

    for module in (sending, segments, saved_segments):
        app.register_blueprint(module.bp)
    from . import imports

    app.register_blueprint(imports.bp)
    from . import chronicle

    app.register_blueprint(chronicle.bp)
    from . import consent

    app.register_blueprint(consent.bp)
    from . import dashboard, rfm

    for module in (dashboard, rfm):
        app.register_blueprint(module.bp)
    from . import campaigns

    app.register_blueprint(campaigns.bp)
    from . import dedup_check

    app.register_blueprint(dedup_check.bp)
    from . import privacy

    app.register_blueprint(privacy.bp)
    from . import review

    app.register_blueprint(review.bp)
    from . import duplicates

    app.register_blueprint(duplicates.bp)
    from . import reminders

    app.register_blueprint(reminders.bp)
