"""story redirects: where a story merged away now lives

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 19:05:00

The clustering stage merges stories whose centroids grow alike; the absorbed
story's row is deleted. ``story_redirects`` maps its id to the story that took
its articles, so that old links (``/story/{id}``, ``/api/stories/{id}``, story
feeds) answer 301 instead of 404.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "story_redirects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("story_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("story_redirects")
