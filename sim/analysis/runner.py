"""Running sweep points: in this process, in a pool of processes or on a Dask cluster, and stopping cleanly.

A point is one scenario of the grid (``sim.analysis.capacity.plan_points``); its row holds
the mean figures over its replications. Ctrl-C or SIGTERM stops the sweep: rows already
done are kept, points in flight are stopped at their next slice and kept as partial rows
(``complete: false``), points not started are left out, and every process the pool started
is ended before :func:`run_points` returns. The rows say why the sweep stopped
(:attr:`Rows.stopped`), so the command can exit 130 or 143.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
from typing import Callable

from sim.config.scenario import parse_scenario
from sim.engine import replication_seeds, simulate
from sim.interrupts import INTERRUPTED, TERMINATED, reason
from sim.stats.summary import aggregate, flatten, summarize

__all__ = ["Rows", "run_point", "run_points", "shared_pool"]

_STOP_WAIT_S = 60.0  # how long points in flight may take to reach their next slice once asked to stop


class Rows(list):
    """Sweep rows in point order; ``stopped`` is None, "interrupted" or "terminated"."""

    stopped: str | None = None


def run_point(point, replications: int, seed: int | None, engine: str) -> dict:
    """One point's row: the mean figures over its complete replications (with ``_ci``), flattened.

    A replication stopped midway ends the point: ``complete`` is false and ``error`` says why."""
    scenario = parse_scenario(point.table, path=point.path)
    seed = scenario.run.seed if seed is None else seed
    summaries, error = [], None
    for seed_seq in replication_seeds(seed, replications):
        result = simulate(scenario, engine=engine, seed_seq=seed_seq)
        summaries.append(summarize(result))
        if result.partial:
            error = result.error
            break
    used = [s for s in summaries if not s["partial"]] or summaries
    merged = aggregate(used) if len(used) > 1 else {**used[0], "replications": 1}
    flat = {k: v for k, v in flatten(merged).items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    return {"index": point.index, "values": point.values, "figures": flat,
            "partial": error is not None, "complete": error is None, "error": error}


def _stopped_by(row: dict) -> str | None:
    return row["error"] if row["error"] in (INTERRUPTED, TERMINATED) else None


def run_points(points: list, *, replications: int, seed: int | None, engine: str, jobs: int,
               dask_address: str | None, progress: Callable[[int, int], None], fn: Callable = run_point) -> Rows:
    """Every point, locally in processes (or on Dask); results do not depend on ``jobs``.

    ``fn(point, replications, seed, engine)`` makes a point's row (a module-level function, so
    that a process pool can send it): :func:`run_point` for a sweep."""
    rows = Rows()
    try:
        if dask_address:
            _on_dask(points, rows, replications, seed, engine, dask_address, progress, fn)
        elif jobs <= 1:
            for p in points:
                rows.append(fn(p, replications, seed, engine))
                progress(len(rows), len(points))
                if _stopped_by(rows[-1]):  # the point was stopped midway: so is the sweep
                    rows.stopped = _stopped_by(rows[-1])
                    break
        else:
            _in_pool(points, rows, replications, seed, engine, jobs, progress, fn)
    except KeyboardInterrupt as exc:  # Ctrl-C or SIGTERM between points: keep what is done
        rows.stopped = reason(exc)
    rows.sort(key=lambda r: r["index"])
    return rows


def _worker_init() -> None:
    """Pool workers leave Ctrl-C and SIGTERM to the sweep, which asks them to stop with SIGUSR1."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGUSR1, _interrupt)


_in_point = False  # in a pool worker: a point is running (an idle worker waits on its queue)


def _interrupt(_signum, _frame) -> None:
    # Only a running point is stopped (it comes back partial); an idle worker waiting on the pool's queue
    # ignores the request, so it ends quietly when the pool is closed instead of printing a traceback.
    if _in_point:
        raise KeyboardInterrupt


def _run_one(fn: Callable, point, replications, seed, engine) -> dict:
    """``fn`` on one point in a pool worker, marked as running for :func:`_interrupt`."""
    global _in_point
    _in_point = True
    try:
        return fn(point, replications, seed, engine)
    finally:
        _in_point = False


_shared: list = []  # (pool, jobs) while inside shared_pool


@contextlib.contextmanager
def shared_pool(jobs: int):
    """Inside, every :func:`run_points` of ``jobs`` processes runs on one pool, started once: many short
    calls (the stages of an advice, the batches of draws) do not each pay for starting processes that
    import the model and load the compiled engine. Every process it started is ended on leaving."""
    from concurrent.futures import ProcessPoolExecutor

    if jobs <= 1 or _shared:
        yield
        return
    pool = ProcessPoolExecutor(max_workers=jobs, initializer=_worker_init)
    _shared.append((pool, jobs))
    try:
        yield
    finally:
        _shared.clear()
        _close(pool)


def _close(pool) -> None:
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in multiprocessing.active_children():  # none is left running, whatever happened
        proc.terminate()
        proc.join(5.0)


def _in_pool(points, rows: Rows, replications, seed, engine, jobs, progress, fn) -> None:
    from concurrent.futures import ProcessPoolExecutor, as_completed, wait

    own = not (_shared and _shared[0][1] == jobs)
    pool = ProcessPoolExecutor(max_workers=jobs, initializer=_worker_init) if own else _shared[0][0]
    futures = [pool.submit(_run_one, fn, p, replications, seed, engine) for p in points]
    try:
        for future in as_completed(futures):
            rows.append(future.result())
            progress(len(rows), len(points))
    except KeyboardInterrupt as exc:
        rows.stopped = reason(exc)
        running = [f for f in futures if not f.cancel() and not f.done()]
        workers = multiprocessing.active_children()
        for proc in workers:  # points in flight stop at their next slice and come back partial
            _signal(proc.pid, signal.SIGUSR1)
        done, _ = wait(running, timeout=_STOP_WAIT_S)
        rows.extend(f.result() for f in done if f.exception() is None)
        if not own:  # the shared pool's processes were asked to stop: it is done with
            _shared.clear()
            _close(pool)
    finally:
        if own:
            _close(pool)


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:  # it ended on its own meanwhile
        pass


def _on_dask(points, rows: Rows, replications, seed, engine, address, progress, fn) -> None:
    from dask.distributed import Client, as_completed

    with Client(address) as client:
        futures = client.map(fn, points, replications=replications, seed=seed, engine=engine, pure=False)
        try:
            for future in as_completed(futures):
                rows.append(future.result())
                progress(len(rows), len(points))
        except KeyboardInterrupt as exc:  # points on the cluster are cancelled, not waited for
            rows.stopped = reason(exc)
            client.cancel(futures)
