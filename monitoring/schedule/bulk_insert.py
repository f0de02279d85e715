"""Inserting many rows at once: PostgreSQL's COPY where the database is PostgreSQL, bulk_create
elsewhere (SQLite in development and tests).

COPY is PostgreSQL's own bulk load. It skips what an INSERT of thousands of parameters costs
on both sides (building and parsing the statement, binding each value), which is most of the
time of storing a five-year schedule. Rows go in as plain values, so nothing here runs save()
or sends a signal: use it for rows that are not audited one by one (see audit/bulk.py).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

from django.db import connection
from django.db.models import Model

# PostgreSQL's names for the column types Django creates, as COPY's binary format needs them.
_PG_TYPES = {
    "smallint": "int2",
    "integer": "int4",
    "bigint": "int8",
    "boolean": "bool",
    "date": "date",
    "timestamp with time zone": "timestamptz",
    "varchar": "varchar",
    "text": "text",
    "numeric": "numeric",
    "uuid": "uuid",
}


def rows_insert(model: type[Model], fields: Sequence[str], rows: Iterable[Sequence]) -> int:
    """Insert `rows`, each a sequence of values for `fields` (attribute names such as
    "patient_id"), and return how many went in. Defaults are not applied: give every value."""
    model_fields = [model._meta.get_field(name) for name in fields]
    columns = ", ".join(connection.ops.quote_name(field.column) for field in model_fields)
    table = connection.ops.quote_name(model._meta.db_table)
    if connection.vendor != "postgresql":
        return _rows_insert_many(table, columns, model_fields, rows)
    # The binary format: psycopg encodes each value in C, with no text to build or parse.
    sql = f"COPY {table} ({columns}) FROM STDIN (FORMAT BINARY)"
    types = [_pg_type(field) for field in model_fields]
    count = 0
    started = time.monotonic()
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        copy.set_types(types)
        for row in rows:
            copy.write_row(row)
            count += 1
    _log(sql, count, time.monotonic() - started)
    return count


def _rows_insert_many(table: str, columns: str, model_fields, rows: Iterable[Sequence]) -> int:
    """Elsewhere multi-row INSERTs of only the given columns, as many rows to a statement as
    the database's parameter limit allows (SQLite: 999), so a statement's rows do not shrink
    as the model gains columns the plan does not write."""
    values = [
        [
            field.get_db_prep_save(value, connection)
            for field, value in zip(model_fields, row, strict=True)
        ]
        for row in rows
    ]
    limit = connection.features.max_query_params or 999
    per_statement = max(1, limit // len(model_fields))
    row_marks = "(" + ", ".join(["%s"] * len(model_fields)) + ")"
    with connection.cursor() as cursor:
        for start in range(0, len(values), per_statement):
            batch = values[start : start + per_statement]
            marks = ", ".join([row_marks] * len(batch))
            params = [value for row in batch for value in row]
            # The table and columns are the model's own names, quoted; the values are parameters.
            sql = f"INSERT INTO {table} ({columns}) VALUES {marks}"  # noqa: S608
            cursor.execute(sql, params)
    return len(values)


def _pg_type(field) -> str:
    db_type = field.db_type(connection).split("(")[0].strip()
    try:
        return _PG_TYPES[db_type]
    except KeyError:
        raise ValueError(f"{field}: no COPY type for {db_type!r}") from None


def _log(sql: str, count: int, seconds: float) -> None:
    """Show the COPY among the connection's queries, as Django shows every statement it runs,
    so query-count tests and the debug toolbar see it (psycopg's copy() bypasses the wrapper)."""
    if connection.queries_logged:
        connection.queries_log.append({"sql": f"{sql} -- {count} rows", "time": f"{seconds:.3f}"})
