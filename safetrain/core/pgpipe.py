"""Several statements on PostgreSQL in one round trip, below psycopg's cursors (hot paths: the study heartbeat).

libpq's pipeline mode sends every statement of a list in one message and PostgreSQL answers them in order. The
values travel apart from the SQL text (the extended protocol: nothing is quoted into the statement, so no value can
change it), dumped and loaded by the connection's own adapters (the ones Django registered, exactly as its cursors
do). A named statement is prepared on the connection the first time it is sent (in the same message) and executed
by name after that: PostgreSQL then parses and plans it once per connection. Unnamed statements (behind a pooler
that does not follow prepared statements) are parsed every time.

While PostgreSQL works this thread waits on the socket without holding the GIL.
"""

from __future__ import annotations

import datetime as dt
import select
import weakref
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import errors, pq
from psycopg.adapt import AdaptersMap, PyFormat, Transformer
from psycopg.types.datetime import TimestamptzLoader

ExecStatus = pq.ExecStatus
_OK = (ExecStatus.COMMAND_OK, ExecStatus.TUPLES_OK)

# Per open connection: the names of the statements prepared on it (a new connection starts with none).
_prepared: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()
# Per open connection: its adapters' transformer, which keeps the dumpers and loaders it looked up.
_transformers: weakref.WeakKeyDictionary[Any, Transformer] = weakref.WeakKeyDictionary()


def prepared_names(raw_connection: Any) -> set[str]:
    """The prepared statements this process created on this (psycopg) connection."""
    return _prepared.setdefault(raw_connection, set())


class _Context:
    """What a Transformer reads of its context: the adapters, and the connection they serve."""

    def __init__(self, adapters: AdaptersMap, connection: psycopg.Connection) -> None:
        self.adapters, self.connection = adapters, connection


_TIMESTAMPTZ = psycopg.adapters.types["timestamptz"].oid


def _transformer(raw: psycopg.Connection) -> Transformer:
    tx = _transformers.get(raw)
    if tx is None:
        tx = _transformers[raw] = Transformer(_context(raw))
    return tx


def _context(raw: psycopg.Connection) -> Any:
    """The connection's adapters, with one loader replaced where that changes nothing but the speed.

    Django loads a timestamptz with a subclass of psycopg's loader, written in Python, that replaces the parsed
    value's zone with its own (django.db.backends.postgresql.psycopg_any.BaseTzLoader); psycopg's own
    loader, in C, parses the same text to the same value in the zone of the connection's TimeZone. When both zones
    are UTC (Django's setting for a connection with USE_TZ) the values are identical, and psycopg's loader loads
    them in a fraction of the time (a beat's instructions fell by a tenth); otherwise Django's loader stays."""
    loader = raw.adapters.get_loader(_TIMESTAMPTZ, pq.Format.TEXT)
    if loader is not None and getattr(loader, "timezone", None) is dt.UTC and raw.info.timezone is dt.UTC:
        adapters = AdaptersMap(raw.adapters)
        adapters.register_loader("timestamptz", TimestamptzLoader)
        return _Context(adapters, raw)
    return raw


def numbered(sql: str) -> str:
    """`%s` placeholders as PostgreSQL's `$1, $2 …`."""
    pieces = sql.split("%s")
    return "".join(f"{piece}${i}" for i, piece in enumerate(pieces[:-1], 1)) + pieces[-1]


class Statement:
    """One statement of a pipeline: SQL with `$n` placeholders, its values, and a name to prepare it under
    (None: parsed every time)."""

    __slots__ = ("name", "params", "row", "sql")

    def __init__(
        self, sql: str, params: Sequence[Any] = (), name: str | None = None, *, row: bool = True
    ) -> None:
        self.sql, self.params, self.name, self.row = sql, params, name, row


def _wait(pgconn: Any, *, write: bool = False) -> None:
    # poll(), not select(): select() refuses descriptors from 1024 up, which a server holding a thousand client
    # sockets hands to a database connection it reopens. Both release the GIL while they wait.
    poller = select.poll()
    poller.register(pgconn.socket, select.POLLIN | select.POLLOUT if write else select.POLLIN)
    poller.poll()


def _flush(pgconn: Any) -> None:
    while pgconn.flush():  # 1: not everything was sent yet (the connection is non-blocking)
        _wait(pgconn, write=True)
        pgconn.consume_input()


def _next_result(pgconn: Any) -> Any:
    # Reads from the socket only when what libpq holds does not complete the next result: one answer brings
    # several results, which then cost no system call each.
    while pgconn.is_busy():
        _wait(pgconn)
        pgconn.consume_input()
    return pgconn.get_result()


def run(raw: psycopg.Connection, statements: Sequence[Statement], prepare: bool = True) -> list[tuple | None]:
    """Run the statements in one round trip; for each, its first row (loaded as a cursor would) or None.

    The first failing statement's error is raised (a psycopg error, as from a cursor) after the whole answer was
    read; PostgreSQL skips the statements after it. Inside a transaction the transaction is then failed and must
    be rolled back; outside one, each statement commits on its own. `prepare=False` sends every statement
    unnamed."""
    if not statements:
        return []
    pgconn = raw.pgconn
    if pgconn.transaction_status == pq.TransactionStatus.ACTIVE:
        raise psycopg.InterfaceError("another command is running on this connection")
    if not raw.autocommit and pgconn.transaction_status == pq.TransactionStatus.IDLE:
        # psycopg opens a transaction before a connection's first statement when autocommit is off (Django's
        # atomic blocks); so does this, or the statements (and their row locks) would end with the pipeline.
        statements = [Statement("BEGIN", (), None, row=False), *statements]
    done = prepared_names(raw)
    tx = _transformer(raw)
    # What each result answers, in order: the preparation of the named statement, a statement whose row is
    # returned (None), or one whose row is not (""): the BEGIN added above.
    expected: list[str | None] = []
    pgconn.enter_pipeline_mode()
    try:
        for statement in statements:
            params = statement.params
            values = tx.dump_sequence(params, [PyFormat.TEXT] * len(params)) if params else None
            name = statement.name if prepare else None
            if name is None:
                # The server infers each value's type from where it is used, as for a prepared statement.
                pgconn.send_query_params(statement.sql.encode(), values)
            else:
                key = name.encode()
                if name not in done and name not in expected:
                    pgconn.send_prepare(key, statement.sql.encode())
                    expected.append(name)
                pgconn.send_query_prepared(key, values)
            expected.append(None if statement.row else "")
        pgconn.pipeline_sync()
        _flush(pgconn)
    except BaseException:
        raw.close()  # half a pipeline sent: this connection cannot be trusted any more
        raise
    rows: list[tuple | None] = []
    failure = None
    try:
        for preparing in expected:
            result = _result(pgconn)
            status = result.status
            if status in _OK:
                if preparing:
                    done.add(preparing)
                elif preparing == "":
                    continue
                elif result.ntuples:
                    tx.set_pgresult(result)
                    rows.append(tx.load_row(0, tuple))
                else:
                    rows.append(None)
            elif status == ExecStatus.PIPELINE_ABORTED:
                if preparing is None:
                    rows.append(None)
            elif failure is None:
                failure = errors.error_from_result(result, encoding=raw.info.encoding)
        if _result(pgconn).status != ExecStatus.PIPELINE_SYNC:
            raise psycopg.InterfaceError("the pipeline's answer did not end where it should")
        pgconn.exit_pipeline_mode()
    except BaseException:
        raw.close()
        raise
    if failure is not None:
        raise failure
    tx.set_pgresult(None)  # (the rows are loaded: nothing keeps the last result alive)
    return rows


def _result(pgconn: Any) -> Any:
    """The next result (skipping the empty one that ends each statement's results)."""
    while True:
        result = _next_result(pgconn)
        if result is not None:
            return result
