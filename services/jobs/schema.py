"""Procrastinate's schema in the course database, created and dropped by migration 0004.

Procrastinate keeps its jobs as rows (``procrastinate_jobs``) next to ours, so a submission
and its grading job commit in one transaction. The schema is procrastinate 3.10.0's own
``schema.sql``, kept next to the migrations as it was then: a migration must create the same
tables whichever procrastinate is installed later. When the pin moves, a new revision applies
procrastinate's migration scripts (``procrastinate/sql/migrations``) from 3.10.0 onwards.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Connection

SCHEMA_3_10_0 = Path(__file__).parent.parent / "migrations" / "procrastinate-3.10.0-schema.sql"

DROP_SQL = """
DROP TABLE IF EXISTS procrastinate_events, procrastinate_periodic_defers,
    procrastinate_jobs, procrastinate_workers CASCADE;
DO $$
DECLARE f record;
BEGIN
    FOR f IN SELECT oid::regprocedure AS signature FROM pg_proc
             WHERE proname LIKE 'procrastinate\\_%' LOOP
        EXECUTE 'DROP FUNCTION ' || f.signature || ' CASCADE';
    END LOOP;
END
$$;
DROP TYPE IF EXISTS procrastinate_job_to_defer_v1, procrastinate_job_event_type,
    procrastinate_job_status CASCADE;
"""


def _run_script(connection: Connection, script: str) -> None:
    # Several statements and no parameters: psycopg sends the script as it is, without
    # reading ``%`` or ``:name`` as placeholders.
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(script)
    finally:
        cursor.close()


def procrastinate_schema(connection: Connection) -> None:
    _run_script(connection, SCHEMA_3_10_0.read_text(encoding="utf-8"))


def drop_procrastinate_schema(connection: Connection) -> None:
    _run_script(connection, DROP_SQL)
