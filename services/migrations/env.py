"""Alembic environment: migrations run only through `coursehub migrate` (never on import)."""

from alembic import context
from sqlalchemy import create_engine, pool

from coursehub.services.models import Base

config = context.config


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Procrastinate's tables are created from its own schema file (migration 0004), not
    from our models: leave them out of autogenerate and `alembic check`."""
    return not (type_ == "table" and (name or "").startswith("procrastinate_"))


url = config.get_main_option("sqlalchemy.url")
engine = create_engine(url, poolclass=pool.NullPool)
with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        compare_type=True,
        include_name=include_name,
    )
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
