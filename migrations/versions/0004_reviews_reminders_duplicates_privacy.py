"""reviews reminders duplicates privacy

Revision ID: 0004
Revises: 0003

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("campaign_recipients", schema=None) as batch_op:
        batch_op.create_index("ix_campaign_recipients_contact", ["contact_id"], unique=False)
    op.create_table(
        "privacy_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("performed_at", sa.DateTime(), nullable=False),
        sa.Column("performed_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["performed_by_id"],
            ["users.id"],
            name=op.f("fk_privacy_requests_performed_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_requests")),
    )
    with op.batch_alter_table("privacy_requests", schema=None) as batch_op:
        batch_op.create_index("ix_privacy_requests_contact", ["contact_id"], unique=False)

    op.create_table(
        "duplicate_pairs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_a_id", sa.Integer(), nullable=False),
        sa.Column("contact_b_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("found_at", sa.DateTime(), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["contact_a_id"],
            ["contacts.id"],
            name=op.f("fk_duplicate_pairs_contact_a_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["contact_b_id"],
            ["contacts.id"],
            name=op.f("fk_duplicate_pairs_contact_b_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["users.id"],
            name=op.f("fk_duplicate_pairs_decided_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_duplicate_pairs")),
        sa.UniqueConstraint(
            "contact_a_id", "contact_b_id", name=op.f("uq_duplicate_pairs_contact_a_id")
        ),
    )
    with op.batch_alter_table("duplicate_pairs", schema=None) as batch_op:
        batch_op.create_index("ix_duplicate_pairs_b", ["contact_b_id"], unique=False)
        batch_op.create_index(
            "ix_duplicate_pairs_status_score", ["status", "score", "id"], unique=False
        )

    op.create_table(
        "match_keys",
        sa.Column(
            "key",
            sa.String(length=120).with_variant(sa.String(length=120, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_match_keys_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("key", "contact_id", name=op.f("pk_match_keys")),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("match_keys", schema=None) as batch_op:
        batch_op.create_index("ix_match_keys_contact", ["contact_id"], unique=False)

    op.create_table(
        "merges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("survivor_id", sa.Integer(), nullable=True),
        sa.Column("merged_ids", sa.JSON(), nullable=False),
        sa.Column("snapshot", sa.JSON(), nullable=False),
        sa.Column("batch_id", sa.String(length=36), nullable=True),
        sa.Column("performed_at", sa.DateTime(), nullable=False),
        sa.Column("performed_by_id", sa.Integer(), nullable=True),
        sa.Column("undone_at", sa.DateTime(), nullable=True),
        sa.Column("undone_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["performed_by_id"],
            ["users.id"],
            name=op.f("fk_merges_performed_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["survivor_id"],
            ["contacts.id"],
            name=op.f("fk_merges_survivor_id_contacts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["undone_by_id"],
            ["users.id"],
            name=op.f("fk_merges_undone_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_merges")),
    )
    with op.batch_alter_table("merges", schema=None) as batch_op:
        batch_op.create_index("ix_merges_batch", ["batch_id"], unique=False)
        batch_op.create_index("ix_merges_survivor", ["survivor_id"], unique=False)

    op.create_table(
        "reminders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("assignee_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("done_at", sa.DateTime(), nullable=True),
        sa.Column("snooze_count", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["assignee_id"],
            ["users.id"],
            name=op.f("fk_reminders_assignee_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_reminders_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_reminders_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reminders")),
    )
    with op.batch_alter_table("reminders", schema=None) as batch_op:
        batch_op.create_index(
            "ix_reminders_assignee_open", ["assignee_id", "done_at", "due_on", "id"], unique=False
        )
        batch_op.create_index("ix_reminders_contact", ["contact_id", "done_at"], unique=False)

    with op.batch_alter_table("contact_emails", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("is_valid", sa.Boolean(), server_default=sa.true(), nullable=False)
        )
        batch_op.create_index("ix_contact_emails_valid", ["is_valid", "contact_id"], unique=False)

    with op.batch_alter_table("contact_phones", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("is_valid", sa.Boolean(), server_default=sa.true(), nullable=False)
        )
        batch_op.create_index("ix_contact_phones_valid", ["is_valid", "contact_id"], unique=False)

    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_verified_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("erased_at", sa.DateTime(), nullable=True))
        batch_op.create_index(
            "ix_contacts_archived_verified", ["is_archived", "last_verified_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_contacts_owner_verified", ["owner_id", "last_verified_at"], unique=False
        )
        batch_op.create_index(
            "ix_contacts_stage_last_interaction",
            ["stage", "last_interaction_at", "id"],
            unique=False,
        )


def downgrade():
    with op.batch_alter_table("campaign_recipients", schema=None) as batch_op:
        batch_op.drop_index("ix_campaign_recipients_contact")
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_index("ix_contacts_stage_last_interaction")
        batch_op.drop_index("ix_contacts_owner_verified")
        batch_op.drop_index("ix_contacts_archived_verified")
        batch_op.drop_column("erased_at")
        batch_op.drop_column("last_verified_at")

    with op.batch_alter_table("contact_phones", schema=None) as batch_op:
        batch_op.drop_index("ix_contact_phones_valid")
        batch_op.drop_column("is_valid")

    with op.batch_alter_table("contact_emails", schema=None) as batch_op:
        batch_op.drop_index("ix_contact_emails_valid")
        batch_op.drop_column("is_valid")

    with op.batch_alter_table("reminders", schema=None) as batch_op:
        batch_op.drop_index("ix_reminders_contact")
        batch_op.drop_index("ix_reminders_assignee_open")

    op.drop_table("reminders")
    with op.batch_alter_table("merges", schema=None) as batch_op:
        batch_op.drop_index("ix_merges_survivor")
        batch_op.drop_index("ix_merges_batch")

    op.drop_table("merges")
    with op.batch_alter_table("match_keys", schema=None) as batch_op:
        batch_op.drop_index("ix_match_keys_contact")

    op.drop_table("match_keys")
    with op.batch_alter_table("duplicate_pairs", schema=None) as batch_op:
        batch_op.drop_index("ix_duplicate_pairs_status_score")
        batch_op.drop_index("ix_duplicate_pairs_b")

    op.drop_table("duplicate_pairs")
    with op.batch_alter_table("privacy_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_privacy_requests_contact")

    op.drop_table("privacy_requests")
