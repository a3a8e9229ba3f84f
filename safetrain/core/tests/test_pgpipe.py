"""core.pgpipe: statements in one round trip on PostgreSQL (the heartbeat's database path, LRN-01 at scale).

These run against the machine's PostgreSQL directly (DATABASE_URL when it names PostgreSQL, else the local server
CI and this machine have), in temporary tables, whatever database the rest of the suite uses."""

from __future__ import annotations

import datetime as dt
import os
import resource

import psycopg
import pytest
from psycopg.types.json import Jsonb

from safetrain.core import pgpipe
from safetrain.core.pgpipe import Statement


@pytest.fixture
def pg():
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        url = "postgres://postgres@127.0.0.1:5432/test"
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(
            "CREATE TEMP TABLE pipe (id bigserial PRIMARY KEY, label text, amount float8, at timestamptz,"
            " day date, data jsonb, flag bool, n int CHECK (n >= 0))"
        )
        yield connection


INSERT = (
    "INSERT INTO pipe (label, amount, at, day, data, flag, n) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *"
)


def test_values_travel_apart_from_the_sql_and_come_back_as_a_cursor_loads_them(pg):
    at = dt.datetime(2026, 12, 2, 7, 30, 15, 123456, tzinfo=dt.UTC)
    hostile = 'x\'); DROP TABLE pipe; -- \\ 中文 "quoted"'
    rows = pgpipe.run(
        pg,
        [
            Statement("BEGIN", row=False),
            Statement(INSERT, [hostile, 2.5, at, at.date(), Jsonb([[0.0, 2.0]]), True, 7], "t_insert"),
            Statement("SELECT count(*) FROM pipe", (), "t_count"),
            Statement("COMMIT", row=False),
        ],
    )
    (_id, label, amount, loaded_at, day, data, flag, n), (count,) = rows
    assert (label, amount, loaded_at, day, data, flag, n) == (
        hostile,
        2.5,
        at,
        at.date(),
        [[0.0, 2.0]],
        True,
        7,
    )
    assert count == 1  # the table is still there: the text was a value, never SQL
    assert pg.pgconn.transaction_status == psycopg.pq.TransactionStatus.IDLE
    # the same as a cursor reads it
    assert pg.execute("SELECT * FROM pipe").fetchone() == rows[0]


def test_named_statements_are_prepared_once_per_connection(pg):
    pgpipe.run(pg, [Statement("SELECT $1::int + 1", [1], "t_plus")])
    assert "t_plus" in pgpipe.prepared_names(pg)
    assert pgpipe.run(pg, [Statement("SELECT $1::int + 1", [41], "t_plus")]) == [(42,)]
    prepared = pg.execute("SELECT count(*) FROM pg_prepared_statements WHERE name = 't_plus'").fetchone()
    assert prepared == (1,)
    # unnamed (behind a pooler that does not keep prepared statements): parsed every time, nothing prepared
    assert pgpipe.run(pg, [Statement("SELECT $1::int * 2", [21], "t_times")], prepare=False) == [(42,)]
    assert "t_times" not in pgpipe.prepared_names(pg)


def test_nulls_and_empty_results(pg):
    rows = pgpipe.run(
        pg,
        [
            Statement(INSERT, [None, None, None, None, None, None, None]),
            Statement("SELECT label FROM pipe WHERE id = -1"),
            Statement("UPDATE pipe SET n = 1 WHERE id = -1"),
        ],
    )
    assert rows[0][1:] == (None,) * 7
    assert rows[1:] == [None, None]


def test_a_failing_statement_raises_its_error_and_stops_the_rest_of_the_transaction(pg):
    with pytest.raises(psycopg.errors.CheckViolation):
        pgpipe.run(
            pg,
            [
                Statement("BEGIN", row=False),
                Statement(INSERT, ["kept?", 1.0, None, None, None, None, 1], "t_insert2"),
                Statement(INSERT, ["bad", 1.0, None, None, None, None, -1], "t_insert2"),
                Statement(INSERT, ["after", 1.0, None, None, None, None, 2], "t_insert2"),
                Statement("COMMIT", row=False),
            ],
        )
    # The transaction failed (COMMIT was skipped): rolled back, nothing of it stays; the connection works on.
    assert pg.pgconn.transaction_status == psycopg.pq.TransactionStatus.INERROR
    pg.execute("ROLLBACK")
    assert pg.execute("SELECT count(*) FROM pipe").fetchone() == (0,)
    assert pgpipe.run(pg, [Statement("SELECT 1", (), "t_one")]) == [(1,)]


def test_a_statement_that_fails_to_prepare_is_not_taken_for_prepared(pg):
    with pytest.raises(psycopg.errors.UndefinedTable):
        pgpipe.run(pg, [Statement("SELECT * FROM no_such_table", (), "t_missing")])
    assert "t_missing" not in pgpipe.prepared_names(pg)
    pg.execute("CREATE TEMP TABLE no_such_table (x int)")
    assert pgpipe.run(pg, [Statement("SELECT count(*) FROM no_such_table", (), "t_missing2")]) == [(0,)]


def test_with_autocommit_off_the_statements_join_the_callers_transaction(pg):
    """As psycopg's cursors do (and Django's atomic blocks rely on): the transaction is opened first, so the
    statements and their row locks last until the caller commits or rolls back."""
    pg.autocommit = False
    pgpipe.run(pg, [Statement(INSERT, ["in a transaction", 1.0, None, None, None, None, 1], "t_insert3")])
    assert pg.pgconn.transaction_status == psycopg.pq.TransactionStatus.INTRANS
    pg.rollback()
    assert pg.execute("SELECT count(*) FROM pipe").fetchone() == (0,)
    pg.rollback()
    pg.autocommit = True


def test_a_value_that_cannot_be_sent_leaves_no_half_sent_pipeline(pg):
    with pytest.raises(psycopg.ProgrammingError):
        pgpipe.run(pg, [Statement("SELECT $1", [object()])])
    # the connection could not be trusted after half a message: it was closed, not left in pipeline mode
    assert pg.closed


def test_a_connection_on_a_descriptor_above_1023_is_waited_for(pg):
    # A granian worker holds about a thousand client sockets, so a database connection it reopens gets a
    # descriptor from 1024 up, which select() refuses ("filedescriptor out of range"); seen in bench/heartbeats.py.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = 1100
    if soft < needed:
        assert hard == resource.RLIM_INFINITY or hard >= needed, f"open-files limit {hard} is below {needed}"
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    fillers = [os.open(os.devnull, os.O_RDONLY)]
    try:
        # every lower descriptor taken: the next connection's socket gets a high one
        while fillers[-1] < 1024:
            fillers.append(os.dup(fillers[0]))
        with psycopg.connect(pg.info.dsn, autocommit=True) as high:
            assert high.pgconn.socket >= 1024
            rows = pgpipe.run(
                high, [Statement("SELECT $1::int + 1", [41]), Statement("SELECT pg_sleep(0.05)")]
            )
            assert rows[0] == (42,)
    finally:
        for fd in fillers:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.fixture
def django_adapted():
    """A connection set up as Django sets up its own (its adapters, the UTC zone of USE_TZ)."""
    from django.db.backends.postgresql.psycopg_any import get_adapters_template

    def connect(zone: str = "UTC") -> psycopg.Connection:
        url = os.environ.get("DATABASE_URL", "")
        if not url.startswith(("postgres://", "postgresql://")):
            url = "postgres://postgres@127.0.0.1:5432/test"
        connection = psycopg.connect(url, autocommit=True, context=get_adapters_template(True, dt.UTC))
        connection.execute("SELECT set_config('TimeZone', %s, false)", [zone])
        opened.append(connection)
        return connection

    opened: list[psycopg.Connection] = []
    yield connect
    for connection in opened:
        connection.close()


TIMESTAMPS = (
    "2026-12-03 14:07:50.582805+00",
    "2026-12-03 22:07:50+08",
    "2024-02-29 23:59:59.999999+00",
    "0001-01-01 00:00:00+00",
    "9999-12-31 23:59:59.999999+00",
    "infinity",
    "-infinity",
    "0044-03-15 12:00:00+00 BC",
)


def _load(connection: psycopg.Connection, text: str, through_pipeline: bool):
    sql = "SELECT $1::timestamptz" if through_pipeline else "SELECT %s::timestamptz"
    try:
        if through_pipeline:
            (row,) = pgpipe.run(connection, [Statement(sql, [text])])
        else:
            row = connection.execute(sql, [text]).fetchone()
    except psycopg.Error as error:
        return type(error)
    value = row[0]
    return value, value.tzinfo


def test_timestamps_load_exactly_as_djangos_loader_loads_them(django_adapted):
    """With the UTC zone the pipeline loads timestamps with psycopg's loader in C, not Django's in Python; every
    value, its zone object and every refusal (out of Python's range) are the same as Django's cursor gives."""
    connection = django_adapted()
    oid = psycopg.adapters.types["timestamptz"].oid
    assert connection.adapters.get_loader(oid, psycopg.pq.Format.TEXT).__module__.startswith("django.")
    pipeline_loader = pgpipe._transformer(connection).get_loader(oid, psycopg.pq.Format.TEXT)
    assert not type(pipeline_loader).__module__.startswith("django.")
    refused = 0
    for text in TIMESTAMPS:
        # (a value that cannot be loaded closes the pipeline's connection: a fresh pair each)
        expected = _load(django_adapted(), text, through_pipeline=False)
        assert _load(django_adapted(), text, through_pipeline=True) == expected, text
        if isinstance(expected, tuple):
            assert expected[1] is dt.UTC
        else:
            refused += 1
    assert refused == 3  # infinity, -infinity and the year BC: beyond Python's dates either way
    assert _load(connection, TIMESTAMPS[1], through_pipeline=True)[0] == dt.datetime(
        2026, 12, 3, 14, 7, 50, tzinfo=dt.UTC
    )


def test_in_another_zone_the_pipeline_keeps_djangos_loader(django_adapted):
    connection = django_adapted("Asia/Shanghai")
    oid = psycopg.adapters.types["timestamptz"].oid
    loader = pgpipe._transformer(connection).get_loader(oid, psycopg.pq.Format.TEXT)
    assert type(loader).__module__.startswith("django.")
    for text in TIMESTAMPS:
        shanghai = (django_adapted("Asia/Shanghai") for _ in range(2))
        assert _load(next(shanghai), text, True) == _load(next(shanghai), text, False), text
