"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL:
a column added to a model without a migration would break every existing install."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from crmlite.extensions import db


def test_migrated_database_matches_the_models(app):
    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": False})
        assert compare_metadata(context, db.metadata) == []
