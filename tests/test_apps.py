"""Real applications on minikv: dramatiq (its broker is Lua scripts using cjson), Celery
(Redis broker and result backend; worker control over pub/sub) and RQ (results written with
XADD inside MULTI, read back from the stream). Each runs a few tiny jobs
through a real worker in this process, bounded by timeouts, and checks their results.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from helpers import ServerProcess


@pytest.fixture
def server() -> Iterator[ServerProcess]:
    """A server of its own: the frameworks leave connections (some blocked in BRPOP) behind
    that other tests would count."""
    with ServerProcess() as srv:
        yield srv


def test_dramatiq_worker_runs_jobs(server: ServerProcess) -> None:
    dramatiq = pytest.importorskip("dramatiq")
    from dramatiq.brokers.redis import RedisBroker

    r = server.client()
    r.flushall()
    broker = RedisBroker(host="127.0.0.1", port=server.port)
    dramatiq.set_broker(broker)

    @dramatiq.actor(max_retries=0, queue_name="minikv-test")
    def add(x: int, y: int) -> None:
        redis.Redis(port=server.port).rpush("done", x + y)

    for i in range(5):
        add.send(i, 10)
    worker = dramatiq.Worker(broker, worker_timeout=100, worker_threads=2)
    worker.start()
    try:
        deadline = time.monotonic() + 20
        while r.llen("done") < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        worker.stop()
        broker.close()
    assert sorted(int(x) for x in r.lrange("done", 0, -1)) == [10, 11, 12, 13, 14]
    r.close()


def test_rq_burst_worker_results(server: ServerProcess) -> None:
    """RQ stores each job's result as a stream entry (XADD .. MAXLEN ~ inside a MULTI) and
    reads it back with XREVRANGE: without streams the transaction was discarded and the jobs
    stayed STARTED."""
    rq = pytest.importorskip("rq")
    import operator

    r = server.client()
    r.flushall()
    q = rq.Queue("minikv-test", connection=r)
    jobs = [q.enqueue(operator.add, i, 10) for i in range(3)]
    failing = q.enqueue(operator.truediv, 1, 0)
    worker = rq.SimpleWorker([q], connection=r)
    assert worker.work(burst=True, with_scheduler=False, max_jobs=10)
    for i, job in enumerate(jobs):
        job.refresh()
        assert job.get_status() == rq.job.JobStatus.FINISHED
        assert job.return_value() == i + 10
    failing.refresh()
    assert failing.get_status() == rq.job.JobStatus.FAILED
    result = failing.latest_result()
    assert result is not None and "ZeroDivisionError" in (result.exc_string or "")
    assert r.type(f"rq:results:{jobs[0].id}") == b"stream"
    r.close()


def test_celery_worker_results_and_control(server: ServerProcess) -> None:
    celery = pytest.importorskip("celery")
    from celery.contrib.testing.worker import start_worker

    url = f"redis://127.0.0.1:{server.port}/0"
    app: Any = celery.Celery("minikv_test", broker=url, backend=url)
    app.conf.broker_connection_retry_on_startup = False

    @app.task
    def add(x: int, y: int) -> int:
        return x + y

    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        results = [add.delay(i, 1) for i in range(3)]
        assert [res.get(timeout=20) for res in results] == [1, 2, 3]
        # Worker control (inspect ping) is a fanout over pub/sub.
        replies = app.control.inspect(timeout=5).ping()
        assert replies and all(v == {"ok": "pong"} for v in replies.values())
    app.close()
