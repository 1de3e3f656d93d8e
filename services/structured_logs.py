"""How CourseHub's processes log: text lines for people, or with ``COURSEHUB_LOG_FORMAT=json``
one JSON object per line for a log collector; and the request id that ties together what
one request caused, from the proxy to the course service to a job a worker runs.

The course service takes a request's ``X-Request-Id`` (the proxy passes headers through)
or makes one, answers with it, and keeps it in ``REQUEST_ID`` while it serves the request;
``jobs.queue.defer`` stores it with each job it queues, and the worker sets it again while
the job runs. Every log record carries it as ``request_id``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

HEADER = "X-Request-Id"
# Where a job's arguments carry the id of the request that queued it.
JOB_ARGUMENT = "_request_id"
REQUEST_ID: ContextVar[str | None] = ContextVar("coursehub_request_id", default=None)
FORMATS = ("text", "json")
_ACCEPTED = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")
# LogRecord attributes that are not "extra" fields given by the caller.
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "request_id"}


def request_id_for(header: str | None) -> str:
    """The caller's request id when it is a sensible token, else a new one."""
    if header and _ACCEPTED.fullmatch(header):
        return header
    return uuid.uuid4().hex


class RequestIdFilter(logging.Filter):
    """Puts the current request id on every record (None outside a request or job)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = REQUEST_ID.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, message, process,
    request_id, the caller's extra fields, and the traceback when there is one."""

    def __init__(self, process_name: str = "") -> None:
        super().__init__()
        self.process_name = process_name

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": self.process_name or record.processName,
            "pid": record.process,
            "request_id": getattr(record, "request_id", None) or REQUEST_ID.get(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value if isinstance(value, str | int | float | bool) else repr(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextWithRequestId(logging.Formatter):
    """The text format people read, with `` [request <id>]`` after a line written while a
    request (or a job it queued) was being served."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        line = self.inner.format(record)
        request_id = getattr(record, "request_id", None)
        return f"{line} [request {request_id}]" if request_id else line


def log_format(env: dict[str, str] | None = None) -> str:
    """``COURSEHUB_LOG_FORMAT`` (text or json); another value stops the process with a
    sentence."""
    value = (os.environ if env is None else env).get("COURSEHUB_LOG_FORMAT", "text").lower()
    if value not in FORMATS:
        raise SystemExit(f"COURSEHUB_LOG_FORMAT must be text or json, not {value!r}.")
    return value


def configure(process_name: str) -> None:
    """After ``logging.basicConfig``: request ids on every handler's records, and JSON
    lines when asked for."""
    use_json = log_format() == "json"
    for handler in logging.getLogger().handlers:
        handler.addFilter(RequestIdFilter())
        if use_json:
            handler.setFormatter(JsonFormatter(process_name))
        else:
            handler.setFormatter(TextWithRequestId(handler.formatter or logging.Formatter()))


_job_log = logging.getLogger("coursehub.jobs")


def with_request_id(args: dict[str, Any]) -> dict[str, Any]:
    """A job's arguments, with the current request's id when there is one."""
    request_id = REQUEST_ID.get()
    return {**args, JOB_ARGUMENT: request_id} if request_id else args


async def carry_request_id(call_next: Any, context: Any, worker: Any) -> Any:
    """procrastinate worker middleware: takes the request id out of the job's arguments
    (the task never sees it) and keeps it current while the job runs."""
    request_id = context.job.task_kwargs.pop(JOB_ARGUMENT, None)
    token = REQUEST_ID.set(request_id)
    try:
        _job_log.info(
            "Job %s (%s) runs",
            context.job.id,
            context.job.task_name,
            extra={"job_id": context.job.id, "task": context.job.task_name},
        )
        return await call_next()
    finally:
        REQUEST_ID.reset(token)
