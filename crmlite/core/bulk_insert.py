"""Many rows into one table, straight through the database driver: executemany on SQLite,
COPY on PostgreSQL (psycopg), several times faster than SQLAlchemy's per-row parameter
processing for the hundreds of thousands of rows an import or a duplicate scan writes. The
values go in the formats SQLAlchemy itself stores; other databases get Core executemany."""

import json
from typing import Any

from sqlalchemy import JSON, Date, DateTime, text
from sqlalchemy.orm import Session


def insert_rows(
    session: Session, table, rows: list[dict[str, Any]], returning_ids: bool = False
) -> list[int] | None:
    """Insert rows (dicts with the same keys in the same order) in the session's transaction;
    with returning_ids, their new ids in order."""
    if not rows:
        return [] if returning_ids else None
    connection = session.connection()
    dialect = connection.dialect.name
    if dialect == "postgresql" and connection.dialect.driver == "psycopg":
        return _copy_rows(connection, table, rows, returning_ids)
    if dialect != "sqlite":
        if returning_ids:
            stmt = table.insert().returning(table.c.id, sort_by_parameter_order=True)
            return list(connection.execute(stmt, rows).scalars())
        connection.execute(table.insert(), rows)
        return None
    columns = list(rows[0])
    params = _driver_rows(table, columns, rows, dates_as_text=True)
    sql = (
        f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    )
    cursor = connection.connection.driver_connection.cursor()
    if returning_ids:
        # The first row gets its id from SQLite; the write lock this transaction now holds
        # keeps every other writer out, so the next ids are free and the rest go in at once.
        cursor.execute(sql, params[0])
        first = cursor.lastrowid
        if len(params) > 1:
            sql = f"INSERT INTO {table.name} (id, {', '.join(columns)}) VALUES "
            sql += f"({', '.join('?' * (len(columns) + 1))})"
            cursor.executemany(sql, [(first + n, *v) for n, v in enumerate(params[1:], 1)])
        return list(range(first, first + len(params)))
    cursor.executemany(sql, params)
    return None


def _copy_rows(connection, table, rows: list[dict[str, Any]], returning_ids: bool):
    """COPY into a PostgreSQL table; new ids are taken from the table's sequence first."""
    columns = list(rows[0])
    params = _driver_rows(table, columns, rows, dates_as_text=False)
    ids = None
    if returning_ids:
        ids = sorted(
            connection.execute(
                text(
                    "SELECT nextval(pg_get_serial_sequence(:table, 'id')) "
                    "FROM generate_series(1, :n)"
                ),
                {"table": table.name, "n": len(params)},
            ).scalars()
        )
        columns = ["id", *columns]
        params = [(i, *v) for i, v in zip(ids, params, strict=True)]
    with connection.connection.driver_connection.cursor() as cursor:
        with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
            for values in params:
                copy.write_row(values)
    return ids


def _driver_rows(table, columns: list[str], rows: list[dict], dates_as_text: bool) -> list[tuple]:
    """The rows as tuples for the driver: JSON as text, and (SQLite) dates as SQLAlchemy
    writes them."""
    converters = []
    for name in columns:
        column_type = table.c[name].type
        if isinstance(column_type, JSON):
            converters.append(lambda v: None if v is None else json.dumps(v, ensure_ascii=False))
        elif dates_as_text and isinstance(column_type, DateTime):
            converters.append(lambda v: v and v.strftime("%Y-%m-%d %H:%M:%S.%f"))
        elif dates_as_text and isinstance(column_type, Date):
            converters.append(lambda v: v and v.isoformat())
        else:
            converters.append(None)
    if all(c is None for c in converters):
        return [tuple(row.values()) for row in rows]
    return [
        tuple(v if c is None else c(v) for v, c in zip(row.values(), converters, strict=True))
        for row in rows
    ]
