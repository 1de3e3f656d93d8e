"""Alembic environment: migrations run only through `coursehub migrate` (never on import)."""

from alembic import context
from sqlalchemy import create_engine, pool

from coursehub.services.models import Base

config = context.config
url = config.get_main_option("sqlalchemy.url")
engine = create_engine(url, poolclass=pool.NullPool)
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
