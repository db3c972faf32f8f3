"""chronicle consent segments campaigns

Revision ID: 0003
Revises: 0002


"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():

    op.create_table(
        "saved_segments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("shared", sa.Boolean(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_saved_segments_owner_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_segments")),
    )
    with op.batch_alter_table("saved_segments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_saved_segments_owner_id"), ["owner_id"], unique=False)

    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("segment_key", sa.String(length=100), nullable=False),
        sa.Column("segment_params", sa.JSON(), nullable=False),
        sa.Column("sender", sa.String(length=100), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("rate_per_minute", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_campaigns_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name=op.f("fk_campaigns_job_id_jobs"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
    )
    op.create_table(
        "contact_consents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("wording_version", sa.String(length=50), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_contact_consents_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"],
            ["users.id"],
            name=op.f("fk_contact_consents_recorded_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_consents")),
        sa.UniqueConstraint(
            "contact_id", "channel", "purpose", name=op.f("uq_contact_consents_contact_id")
        ),
    )
    with op.batch_alter_table("contact_consents", schema=None) as batch_op:
        batch_op.create_index(
            "ix_contact_consents_filter",
            ["channel", "purpose", "status", "contact_id"],
            unique=False,
        )

    op.create_table(
        "campaign_recipients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_recipients_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_campaign_recipients_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_recipients")),
        sa.UniqueConstraint(
            "campaign_id", "contact_id", name=op.f("uq_campaign_recipients_campaign_id")
        ),
    )
    with op.batch_alter_table("campaign_recipients", schema=None) as batch_op:
        batch_op.create_index(
            "ix_campaign_recipients_status", ["campaign_id", "status", "id"], unique=False
        )

    op.create_table(
        "interactions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("occurred_at", sa.DateTime(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=True),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=True),
        sa.Column("import_id", sa.Integer(), nullable=True),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["users.id"],
            name=op.f("fk_interactions_author_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_interactions_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["imports.id"],
            name=op.f("fk_interactions_import_id_imports"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_interactions")),
    )
    with op.batch_alter_table("interactions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_interactions_contact_occurred", ["contact_id", "occurred_at", "id"], unique=False
        )
        batch_op.create_index("ix_interactions_external_id", ["external_id"], unique=False)
        batch_op.create_index(
            "ix_interactions_kind_occurred", ["kind", "occurred_at", "amount_minor"], unique=False
        )

    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("purchase_count", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("purchase_total_minor", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("purchase_avg_minor", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("first_purchase_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("last_purchase_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("last_interaction_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("last_nps", sa.Integer(), nullable=True))
        batch_op.create_index(
            "ix_contacts_last_purchase", ["is_archived", "last_purchase_at"], unique=False
        )
        batch_op.create_index(
            "ix_contacts_purchase_total", ["is_archived", "purchase_total_minor"], unique=False
        )
        batch_op.create_index(
            "ix_contacts_purchases",
            [
                "is_archived",
                "purchase_count",
                "last_purchase_at",
                "purchase_total_minor",
                "first_purchase_at",
            ],
            unique=False,
        )
        batch_op.create_index(
            "ix_contacts_archived_temperature", ["is_archived", "temperature"], unique=False
        )


def downgrade():

    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_index("ix_contacts_archived_temperature")
        batch_op.drop_index("ix_contacts_purchases")
        batch_op.drop_index("ix_contacts_purchase_total")
        batch_op.drop_index("ix_contacts_last_purchase")
        batch_op.drop_column("last_nps")
        batch_op.drop_column("last_interaction_at")
        batch_op.drop_column("last_purchase_at")
        batch_op.drop_column("first_purchase_at")
        batch_op.drop_column("purchase_avg_minor")
        batch_op.drop_column("purchase_total_minor")
        batch_op.drop_column("purchase_count")

    with op.batch_alter_table("interactions", schema=None) as batch_op:
        batch_op.drop_index("ix_interactions_kind_occurred")
        batch_op.drop_index("ix_interactions_external_id")
        batch_op.drop_index("ix_interactions_contact_occurred")

    op.drop_table("interactions")
    with op.batch_alter_table("campaign_recipients", schema=None) as batch_op:
        batch_op.drop_index("ix_campaign_recipients_status")

    op.drop_table("campaign_recipients")
    with op.batch_alter_table("contact_consents", schema=None) as batch_op:
        batch_op.drop_index("ix_contact_consents_filter")

    op.drop_table("contact_consents")
    op.drop_table("campaigns")
    with op.batch_alter_table("saved_segments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_saved_segments_owner_id"))

    op.drop_table("saved_segments")
