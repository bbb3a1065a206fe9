"""Job queueing with the real RQ worker code: one job per id, retries configured."""

from __future__ import annotations

from rq import Queue, SimpleWorker

from jobs.queues import DEFAULT, QUEUE_NAMES, RETRY, WORKERS, enqueue


def test_queues_exist_in_priority_order():
    assert QUEUE_NAMES == ("push", "default", "training")


def test_every_queue_is_served_by_one_process_and_training_by_its_own():
    served = [queue for queues in WORKERS.values() for queue in queues]
    assert sorted(served) == sorted(QUEUE_NAMES)
    assert WORKERS["trainer"] == ("training",)


def test_same_job_id_is_enqueued_once_and_runs(redis_conn):
    first = enqueue(redis_conn, DEFAULT, "json.dumps", {"a": 1}, job_id="deliver-42")
    again = enqueue(redis_conn, DEFAULT, "json.dumps", {"a": 1}, job_id="deliver-42")
    assert first.id == again.id == "deliver-42"
    assert len(Queue(DEFAULT, connection=redis_conn)) == 1
    assert first.retries_left == RETRY.max
    SimpleWorker([DEFAULT], connection=redis_conn).work(burst=True)
    assert first.get_status(refresh=True) == "finished"
    assert first.return_value() == '{"a": 1}'
    # Finished jobs are not re-run when the same id is enqueued again (idempotent callers).
    assert enqueue(redis_conn, DEFAULT, "json.dumps", {"a": 1}, job_id="deliver-42").id == first.id
    assert len(Queue(DEFAULT, connection=redis_conn)) == 0


def test_failed_job_can_be_enqueued_again(redis_conn):
    job = enqueue(redis_conn, DEFAULT, "json.loads", "not json", job_id="bad-1")
    job.retries_left = 0
    job.save()
    SimpleWorker([DEFAULT], connection=redis_conn).work(burst=True)
    assert job.get_status(refresh=True) == "failed"
    retry = enqueue(redis_conn, DEFAULT, "json.loads", "[]", job_id="bad-1")
    assert retry.get_status(refresh=True) == "queued"
