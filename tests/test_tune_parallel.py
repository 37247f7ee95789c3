"""Parallel work: the process pool, parallel optimize and caviar, a worker killed mid-trial."""

import concurrent.futures as cf
import importlib.util
import os

import numpy as np
import pytest

import bntune
from bntune import functional as F  # noqa: N812
from bntune import tune
from modes_helpers import Curve, blas_threads, bn_in_worker, curve_value, quadratic_objective

SPACE = tune.Space(a=tune.Uniform(0.0, 1.0), c=tune.Uniform(0.0, 1.0))


def _reference_bn(x):
    x64 = x.astype(np.float64)
    mean = x64.mean(axis=0)
    var = x64.var(axis=0)
    return (x64 - mean) / np.sqrt(var + 1e-5)


@pytest.mark.parametrize("start_method", ["forkserver", "spawn"])
def test_process_pool_works_after_the_driver_ran_threaded_kernels(start_method):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4096, 64)).astype(np.float32)
    before = bntune.get_num_threads()
    bntune.set_num_threads(2)
    try:
        F.batch_norm_forward(x, np.ones(64, np.float32), np.zeros(64, np.float32))  # rayon is up
        with tune.process_pool(2, start_method=start_method) as pool:
            results = [pool.submit(bn_in_worker, x).result(timeout=60)]
            results += list(pool.map(bn_in_worker, [x[:100], x[100:300]], timeout=60))
            blas = pool.submit(blas_threads).result(timeout=60)
    finally:
        bntune.set_num_threads(before)
    for (y, threads), part in zip(results, [x, x[:100], x[100:300]], strict=True):
        assert threads == 1  # one kernel thread per worker
        np.testing.assert_allclose(y, _reference_bn(part), rtol=1e-4, atol=1e-5)
    assert blas in (None, 1)


def test_process_pool_refuses_fork():
    with pytest.raises(ValueError, match="forked child hangs"):
        tune.process_pool(2, start_method="fork")


def test_parallel_coarse_to_fine_zooms_exactly_as_a_serial_run():
    space = tune.Space(x=tune.Uniform(0.0, 1.0))
    runs = {}
    for workers in (1, 2):
        study = tune.Study(f"c2f-{workers}", seed=3)
        study.coarse_to_fine(
            quadratic_objective,
            space,
            rounds=3,
            trials_per_round=6,
            top=0.2,
            method="zoom",
            n_workers=workers,
        )
        runs[workers] = study
    serial, parallel = runs[1], runs[2]
    assert len(parallel.trials) == 18
    assert parallel.boxes == serial.boxes
    # the boxes really zoom: round 3 is narrower than the whole interval
    assert serial.boxes[3]["x"][1] - serial.boxes[3]["x"][0] < 1.0
    by_number = {t.number: t for t in parallel.trials}
    for t in serial.trials:
        p = by_number[t.number]
        assert (p.params, p.round, p.value) == (t.params, t.round, t.value)


def test_parallel_optimize_gives_trial_k_the_same_configuration_and_result():
    space = tune.Space(x=tune.Uniform(0.0, 1.0))
    serial = tune.Study("serial", seed=7)
    serial.optimize(quadratic_objective, space, n_trials=12)
    parallel = tune.Study("parallel", seed=7)
    parallel.optimize(quadratic_objective, space, n_trials=12, n_workers=2)
    assert len(parallel.trials) == 12
    by_number = {t.number: t for t in parallel.trials}
    for t in serial.trials:
        p = by_number[t.number]
        assert p.params == t.params
        assert (p.state, p.value, p.curve) == (t.state, t.value, t.curve)
        if t.params["x"] > 0.9:
            assert p.state == "failed"
            assert "x too large" in p.error
        else:
            assert p.value == (t.params["x"] - 0.3) ** 2


def test_optimize_runs_on_any_executor():
    space = tune.Space(x=tune.Uniform(0.0, 1.0))
    study = tune.Study("threads", seed=1)
    with cf.ThreadPoolExecutor(2) as executor:
        study.optimize(quadratic_objective, space, n_trials=6, executor=executor)
    assert [t.params for t in sorted(study.trials, key=lambda t: t.number)] == space.sample(
        6, seed=1
    )
    with pytest.raises(TypeError, match=r"concurrent\.futures\.Executor"):
        study.optimize(quadratic_objective, space, n_trials=1, executor="dask")


def _halving(name: str, **where) -> list:
    """Caviar of 9 Curves for up to 9 epochs with successive halving, seed 11, run ``where``
    (n_workers= or executor=)."""
    return tune.Study(name, seed=11).caviar(
        Curve, SPACE, population=9, epochs=9, scheduler=tune.SuccessiveHalving(), **where
    )


def test_successive_halving_decides_the_same_on_one_and_two_workers():
    runs = []
    for n_workers in (1, 2):
        trials = _halving("sh", n_workers=n_workers)
        runs.append([(t.number, t.params, t.state, t.curve) for t in trials])
    assert runs[0] == runs[1]
    for _, params, _, curve in runs[1]:
        assert curve == {e: curve_value(params, e) for e in curve}


def test_a_worker_killed_mid_trial_is_rerun_from_its_checkpoint(tmp_path):
    marker = tmp_path / "killed"
    space = tune.Space(
        a=tune.Uniform(0.0, 1.0), c=tune.Uniform(0.0, 1.0), kill_marker=tune.Fixed(str(marker))
    )
    study = tune.Study("kill", seed=0)
    trials = study.caviar(Curve, space, population=3, epochs=3, n_workers=2)
    assert marker.exists()  # a worker did die (os._exit) in epoch 2 of some trial
    for t in trials:
        assert t.state == "complete"
        assert t.curve == {e: curve_value(t.params, e) for e in (1, 2, 3)}
    assert study.best_checkpoint().load(Curve).epoch == 3


def _square(v):
    return v * v


def test_tasks_submitted_to_a_pool_that_broke_since_the_last_wait_run_on_a_new_one():
    # A worker can die after run_all's wait returned with another task's result: the next
    # submit then raises BrokenProcessPool at once. Reproduced here by breaking the pool first.
    from bntune.tune.executors import WorkPool, run_all

    with WorkPool(2, None) as pool:
        dying = pool.executor.submit(os._exit, 1)
        with pytest.raises(cf.process.BrokenProcessPool):
            dying.result()  # the pool is marked broken before this future fails
        todo, got = list(range(5)), {}
        run_all(
            pool,
            _square,
            lambda free: [todo.pop(0) for _ in range(min(free, len(todo)))],
            lambda task, result: got.__setitem__(task, result),
        )
        assert got == {v: v * v for v in range(5)}
        assert pool.rebuilds == 1


@pytest.mark.skipif(
    importlib.util.find_spec("distributed") is None, reason="dask distributed not installed"
)
def test_caviar_on_a_dask_local_cluster():
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",  # any free loopback port, never 8787
        ) as cluster,
        Client(cluster) as client,
    ):
        trials = _halving("dask", executor=client.get_executor())
    expected = _halving("local", n_workers=1)
    assert [(t.params, t.state, t.curve) for t in trials] == [
        (t.params, t.state, t.curve) for t in expected
    ]


def test_pbt_and_asha_on_two_workers():
    from modes_helpers import NoisyQuadratic

    qspace = tune.Space(lr=tune.LogUniform(1e-3, 0.9), width=tune.IntUniform(1, 4))
    runs = []
    for n_workers in (1, 2):
        members = tune.Study("pbt", seed=3).pbt(
            NoisyQuadratic, qspace, population=4, epochs=6, interval=2, n_workers=n_workers
        )
        runs.append([(m.number, m.params, m.events, m.value) for m in members])
    assert runs[0] == runs[1]  # synchronous: the same decisions whatever the workers
    trials = tune.Study("asha", seed=5).caviar(
        Curve, SPACE, population=9, epochs=9, scheduler=tune.ASHA(), n_workers=2
    )
    assert [t.params for t in trials] == SPACE.sample(9, seed=5)
    for lower, upper in ((1, 3), (3, 9)):
        reached = [t for t in trials if len(t.curve) >= lower]
        ranked = sorted(reached, key=lambda t: (curve_value(t.params, lower), t.number))
        assert all(len(t.curve) >= upper for t in ranked[: len(reached) // 3])


def test_a_trial_that_hangs_is_timed_out_and_the_rest_go_on():
    from modes_helpers import sometimes_hangs

    space = tune.Space(x=tune.Uniform(0.0, 1.0))
    study = tune.Study("hang", seed=0)
    study.optimize(sometimes_hangs, space, n_trials=6, n_workers=2, trial_timeout=2.0)
    trials = sorted(study.trials, key=lambda t: t.number)
    assert [t.params for t in trials] == space.sample(6, seed=0)
    hung = [t for t in trials if t.params["x"] > 0.8]
    assert hung
    for t in trials:
        if t.params["x"] > 0.8:
            assert t.state == "failed"
            assert "timed out" in t.error
        else:
            assert (t.state, t.value) == ("complete", t.params["x"])
    with pytest.raises(ValueError, match="trial_timeout needs workers"):
        study.optimize(sometimes_hangs, space, n_trials=1, trial_timeout=1.0)


def test_a_pruner_decides_on_the_worker_from_the_completed_curves_it_was_sent():
    # one worker at a time: each trial's snapshot holds every earlier trial, as in serial runs
    space = tune.Space(x=tune.Uniform(0.0, 0.85))
    serial = tune.Study("serial", seed=4, pruner=tune.MedianStopping(n_startup_trials=2))
    serial.optimize(quadratic_objective, space, n_trials=10)
    remote = tune.Study("remote", seed=4, pruner=tune.MedianStopping(n_startup_trials=2))
    with cf.ThreadPoolExecutor(1) as executor:
        remote.optimize(quadratic_objective, space, n_trials=10, executor=executor)
    states = [(t.number, t.state, t.curve) for t in serial.trials]
    assert states == [(t.number, t.state, t.curve) for t in remote.trials]
    assert any(s == "pruned" for _, s, _ in states)


def test_numpy_openblas_is_set_to_one_thread_without_threadpoolctl():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from bntune.tune.executors import _openblas_one_thread

    def numpy_blas_threads():
        # numpy's own OpenBLAS (scipy, loaded by other tests, bundles another one)
        found = [
            i["num_threads"]
            for i in threadpoolctl.threadpool_info()
            if i.get("user_api") == "blas" and "numpy.libs" in i.get("filepath", "")
        ]
        return found[0] if found else None

    with threadpoolctl.threadpool_limits(limits=2):  # restores the driver's setting after
        if numpy_blas_threads() is None or not _openblas_one_thread():
            pytest.skip("numpy here does not bundle OpenBLAS")
        assert numpy_blas_threads() == 1
