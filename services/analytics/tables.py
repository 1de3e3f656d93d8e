"""A figure as a table: the form every analytics chart is drawn from, shown beside it for
those who read, and exported as CSV."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Table:
    name: str  # the CSV's name and the element ids: funnel, days, ...
    caption: str
    headers: list[str]
    rows: list[list[Any]] = field(default_factory=list)

    def column(self, index: int) -> list[Any]:
        return [row[index] for row in self.rows]

    def as_json(self) -> dict[str, Any]:
        return {
            "caption": self.caption,
            "rows": [dict(zip(self.headers, row, strict=True)) for row in self.rows],
        }


def as_csv(table: Table) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(table.headers)
    for row in table.rows:
        writer.writerow(["" if value is None else _cell(value) for value in row])
    return out.getvalue()


def _cell(value: Any) -> Any:
    if isinstance(value, float):
        return f"{value:.4g}"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    text = str(value)
    # A spreadsheet would run a cell that starts with these as a formula.
    return f"'{text}" if text[:1] in ("=", "+", "-", "@") and not _number(text) else text


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
