"""The search box's own read connections (``meike.db.prepared._Readers``): kept between lookups to
save the pool's checkout, yet never holding a transaction open, always seeing the latest writes, and
closed by ``Clinic.dispose()`` (a restore needs the database to itself)."""

from __future__ import annotations

import queue
import sqlite3
import threading
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import select, text

from meike.db import Clinic, prepared
from meike.models import Customer
from meike.permissions import Actor
from meike.services import accounts, customers


@pytest.fixture
def setup(demo_clinic: Clinic) -> tuple[Clinic, Actor, str, int]:
    gl = accounts.authenticate(demo_clinic, "gl", "123")
    with demo_clinic.read() as s:
        cid, mobile = s.execute(select(Customer.id, Customer.mobile).order_by(Customer.id).limit(1)).one()
    return demo_clinic, gl, mobile, cid


@pytest.fixture
def worker() -> Iterator[Callable[[Callable[[], object]], object]]:
    """A thread that stays alive between calls (as the window's background threads do)."""
    jobs: queue.Queue[Callable[[], object] | None] = queue.Queue()
    done: queue.Queue[object] = queue.Queue()

    def loop() -> None:
        while (job := jobs.get()) is not None:
            try:
                done.put(job())
            except Exception as exc:  # noqa: BLE001 (handed back to the test)
                done.put(exc)

    thread = threading.Thread(target=loop)
    thread.start()

    def run(job: Callable[[], object]) -> object:
        jobs.put(job)
        result = done.get(timeout=30)
        if isinstance(result, Exception):
            raise result
        return result

    yield run
    jobs.put(None)
    thread.join(10)


def _name(clinic: Clinic, actor: Actor, mobile: str) -> str:
    return customers.search_customers(clinic, actor, text=mobile)[0].name


def _rename(clinic: Clinic, cid: int, name: str) -> None:
    with clinic.write() as s:
        s.get(Customer, cid).name = name


def test_each_lookup_sees_the_latest_write_on_every_thread(setup: tuple[Clinic, Actor, str, int], worker) -> None:
    clinic, gl, mobile, cid = setup
    assert worker(lambda: _name(clinic, gl, mobile)) == _name(clinic, gl, mobile)
    for name in ("改名一", "改名二"):
        _rename(clinic, cid, name)
        assert _name(clinic, gl, mobile) == name
        assert worker(lambda: _name(clinic, gl, mobile)) == name


@pytest.mark.sqlite_only
def test_no_snapshot_is_kept_between_lookups(setup: tuple[Clinic, Actor, str, int], worker) -> None:
    """A read transaction left open would pin the write-ahead log: a full checkpoint could not finish."""
    clinic, gl, mobile, cid = setup
    _name(clinic, gl, mobile)
    worker(lambda: _name(clinic, gl, mobile))
    assert prepared._READERS[clinic.engine]._idle, "the connections are kept for the next lookup"
    other = sqlite3.connect(clinic.path, isolation_level=None)
    try:
        for i in range(5):
            other.execute("UPDATE customers SET notes = ? WHERE id = ?", (f"第{i}次", cid))
        busy, _log, _done = other.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    finally:
        other.close()
    assert busy == 0


def _database_to_itself(clinic: Clinic) -> bool:
    """What a restore checks: leaving WAL mode needs every other connection closed."""
    probe = sqlite3.connect(clinic.path, isolation_level=None, timeout=0.2)
    try:
        left = probe.execute("PRAGMA journal_mode = DELETE").fetchone()[0] == "delete"
        probe.execute("PRAGMA journal_mode = WAL")
        return left
    except sqlite3.OperationalError:
        return False
    finally:
        probe.close()


@pytest.mark.sqlite_only
def test_dispose_closes_them_and_lookups_work_again(setup: tuple[Clinic, Actor, str, int], worker) -> None:
    clinic, gl, mobile, cid = setup
    name = _name(clinic, gl, mobile)
    worker(lambda: _name(clinic, gl, mobile))
    assert not _database_to_itself(clinic)
    clinic.dispose()
    assert _database_to_itself(clinic)
    assert _name(clinic, gl, mobile) == name
    assert worker(lambda: _name(clinic, gl, mobile)) == name


def test_lookups_while_the_engine_is_disposed_again_and_again(setup: tuple[Clinic, Actor, str, int]) -> None:
    clinic, gl, mobile, _cid = setup
    name = _name(clinic, gl, mobile)
    errors: list[BaseException] = []
    stop = threading.Event()

    def search() -> None:
        while not stop.is_set():
            try:
                assert _name(clinic, gl, mobile) == name
            except BaseException as exc:  # noqa: BLE001 (reported below)
                errors.append(exc)
                return

    threads = [threading.Thread(target=search) for _ in range(3)]
    for t in threads:
        t.start()
    for _ in range(40):
        clinic.dispose()
        stop.wait(0.005)
    stop.set()
    for t in threads:
        t.join(10)
    assert not errors
    assert _name(clinic, gl, mobile) == name


def test_postgresql_connections_are_never_left_in_a_transaction(setup: tuple[Clinic, Actor, str, int], worker) -> None:
    clinic, gl, mobile, _cid = setup
    if clinic.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only (MEIKE_TEST_DATABASE_URL)")
    _name(clinic, gl, mobile)
    worker(lambda: _name(clinic, gl, mobile))
    with clinic.engine.connect() as conn:
        states = conn.execute(text("SELECT state FROM pg_stat_activity WHERE datname = current_database() "
                                   "AND pid <> pg_backend_pid()")).scalars().all()
    assert states and "idle in transaction" not in states


def test_a_lookup_after_the_server_ended_its_connection_works(setup: tuple[Clinic, Actor, str, int]) -> None:
    """Found by the crash harness: a kept connection the server ended (a restart, pg_terminate_backend)
    raised the driver's raw AdminShutdown at the next search ("出现意外错误"). It is replaced instead."""
    clinic, gl, mobile, _cid = setup
    if clinic.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only (MEIKE_TEST_DATABASE_URL)")
    name = _name(clinic, gl, mobile)  # a kept reader connection now exists
    with clinic.engine.connect() as conn:
        ended = conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = "
                                  "current_database() AND pid <> pg_backend_pid()")).scalars().all()
    assert ended and all(ended)
    assert _name(clinic, gl, mobile) == name
