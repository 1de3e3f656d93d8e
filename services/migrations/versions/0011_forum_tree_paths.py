"""forum tree paths: each post's place in its thread's tree, stored when it is written

``forum_posts.tree_path`` is the ids from the thread's opening post down to the post itself,
so sorting a thread's posts by it lists them as the tree, depth first, replies in the order
they were written. A trigger fills it on insert (a post never changes parent), for every
writer alike; existing posts get theirs here. Thread pages read a page of posts with one index
scan instead of walking the tree on every visit.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-25 00:20:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

FILL_TREE_PATH = """
CREATE FUNCTION forum_posts_fill_tree_path() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.parent_id IS NULL THEN
        NEW.tree_path := ARRAY[NEW.id];
    ELSE
        SELECT tree_path || NEW.id INTO NEW.tree_path
        FROM forum_posts WHERE id = NEW.parent_id;
    END IF;
    RETURN NEW;
END
$$
"""


def upgrade() -> None:
    op.add_column("forum_posts", sa.Column("tree_path", ARRAY(sa.Integer()), nullable=True))
    op.execute(
        """
        WITH RECURSIVE tree(id, path) AS (
            SELECT id, ARRAY[id] FROM forum_posts WHERE parent_id IS NULL
          UNION ALL
            SELECT p.id, tree.path || p.id FROM forum_posts p JOIN tree ON p.parent_id = tree.id
        )
        UPDATE forum_posts SET tree_path = tree.path FROM tree WHERE tree.id = forum_posts.id
        """
    )
    op.alter_column("forum_posts", "tree_path", nullable=False)
    op.create_index("forum_posts_tree_idx", "forum_posts", ["thread_id", "tree_path"])
    op.execute(FILL_TREE_PATH)
    op.execute(
        "CREATE TRIGGER forum_posts_tree_path BEFORE INSERT ON forum_posts "
        "FOR EACH ROW EXECUTE FUNCTION forum_posts_fill_tree_path()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER forum_posts_tree_path ON forum_posts")
    op.execute("DROP FUNCTION forum_posts_fill_tree_path()")
    op.drop_index("forum_posts_tree_idx", table_name="forum_posts")
    op.drop_column("forum_posts", "tree_path")
