"""bntune.torch runs the kernels' parallel work on torch's own OpenMP threads.

torch is optional: without it these tests skip, unless BNTUNE_REQUIRE_TORCH=1 (set by CI).
"""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

if os.environ.get("BNTUNE_REQUIRE_TORCH") == "1":
    import torch
else:
    torch = pytest.importorskip("torch")

import bntune.torch  # joins torch's team on import
from bntune import _core

TORCH_USES_OPENMP = "parallel backend: OpenMP" in torch.__config__.parallel_info()
needs_openmp = pytest.mark.skipif(
    not TORCH_USES_OPENMP or not sys.platform.startswith("linux"),
    reason="torch's parallel backend is not OpenMP here",
)


def run_python(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@needs_openmp
def test_importing_bntune_torch_joins_torchs_openmp_team():
    assert _core.openmp_joined()


@needs_openmp
def test_results_on_torchs_team_equal_those_on_bntunes_pool():
    rng = np.random.default_rng(3)
    x = rng.normal(5.0, 3.0, (32, 48, 16, 16)).astype(np.float32)  # above the parallel size
    dy = rng.normal(size=x.shape).astype(np.float32)
    gamma, beta = rng.normal(size=48).astype(np.float32), rng.normal(size=48).astype(np.float32)
    threads = _core.get_num_threads()

    def run():
        y, mean, invstd = _core.batch_norm_forward(
            x, gamma, beta, None, None, True, 0.1, 1e-5, None
        )
        grads = _core.batch_norm_backward(dy, x, gamma, mean, invstd, True, None)
        return y, mean, invstd, *grads

    try:
        _core.set_num_threads(2)
        on_team = run()
        _core.join_openmp(None)
        assert not _core.openmp_joined()
        on_pool = run()
    finally:
        bntune.torch.use_torch_threads(True)
        _core.set_num_threads(threads)
    assert _core.openmp_joined()
    for a, b in zip(on_team, on_pool, strict=True):
        np.testing.assert_array_equal(a, b)


@needs_openmp
def test_parallel_work_runs_on_torchs_threads_not_bntunes():
    # bntune's pool names its threads bntune-<i>; the CPU time they spend while kernels run
    # (schedstat, in ns) shows whose threads did the work.
    out = run_python(
        """
        import glob, time, torch, numpy as np
        import bntune.torch
        from bntune import _core
        _core.set_num_threads(2)
        x = np.random.default_rng(0).normal(size=(256, 4096)).astype(np.float32)

        def pool_ns():
            total = 0
            for task in glob.glob("/proc/self/task/*"):
                if open(task + "/comm").read().startswith("bntune-"):
                    total += int(open(task + "/schedstat").read().split()[0])
            return total

        def kernels_ns():
            before = pool_ns()
            for _ in range(50):
                y, mean, invstd = _core.batch_norm_forward(x, None, None, None, None, True,
                                                           0.1, 1e-5, None)
                _core.batch_norm_backward(x, x, None, mean, invstd, True, None)
            return pool_ns() - before

        time.sleep(0.1)  # the pool's threads start and go to sleep
        on_team = kernels_ns()
        _core.join_openmp(None)
        # The control: on bntune's pool the same calls keep its threads busy, if only a little
        # on a loaded machine (the calling thread then takes most tasks): repeat until 1 ms.
        on_pool = 0
        for _ in range(40):
            on_pool += kernels_ns()
            if on_pool >= 1_000_000:
                break
        print(on_team, on_pool)
        """
    )
    on_team, on_pool = map(int, out.split())
    assert on_pool >= 1_000_000, "bntune's own pool did no work when it should have"
    assert on_team < 50_000


@needs_openmp
def test_a_forked_child_uses_bntunes_pool_and_gets_the_same_result():
    # An OpenMP team does not survive a fork: the child must not wait for the parent's threads.
    out = run_python(
        """
        import os, torch, numpy as np
        import bntune.torch
        from bntune import _core
        _core.set_num_threads(2)
        x = np.random.default_rng(1).normal(3.0, 2.0, (512, 1024))
        mine = _core.batch_norm_forward(x, None, None, None, None, True, 0.1, 1e-5, None)[0]
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            theirs = _core.batch_norm_forward(x, None, None, None, None, True, 0.1, 1e-5, None)
            ok = _core.openmp_joined() is False and np.array_equal(theirs[0], mine)
            os.write(write, b"same" if ok else b"different")
            os._exit(0)
        os.waitpid(pid, 0)
        print(os.read(read, 16).decode())
        """
    )
    assert out.strip() == "same"


@needs_openmp
def test_the_runtime_joined_is_the_one_torch_calls():
    bound = bntune.torch._runtime_torch_binds()
    assert bound is not None
    assert os.path.exists(bound)
    assert bound in bntune.torch._loaded_libraries()
    assert bntune.torch._runtime[0] == bound


@needs_openmp
def test_with_another_copy_of_the_runtime_loaded_first_torchs_is_joined():
    # A system libgomp loaded before torch: torch's library then binds to it (the same soname),
    # and the copy in torch/lib is never loaded. bntune must join the one torch calls.
    system = "/usr/lib/x86_64-linux-gnu/libgomp.so.1"
    if not os.path.exists(system):
        pytest.skip("no system libgomp here")
    out = run_python(
        f"""
        import ctypes, os
        ctypes.CDLL({system!r}, mode=os.RTLD_NOW | os.RTLD_GLOBAL)
        import torch
        import bntune.torch as bt
        loaded = {{os.path.realpath(p) for p in bt._loaded_libraries()}}
        runtimes = sorted(p for p in loaded if "omp" in os.path.basename(p))
        print(os.path.realpath(bt._runtime[0]), *runtimes)
        """
    )
    joined, *runtimes = out.split()
    if runtimes != [os.path.realpath(system)]:
        pytest.skip(f"torch loaded its own runtime beside the system's: {runtimes}")
    assert joined == os.path.realpath(system)


def test_joining_a_library_that_is_not_loaded_is_refused():
    with pytest.raises(ValueError, match=r"libbntune-no-such-runtime\.so"):
        _core.join_openmp("libbntune-no-such-runtime.so")


@needs_openmp
def test_python_threads_calling_kernels_at_once_on_the_team():
    # Each Python thread that starts parallel work leads its own OpenMP team: no deadlock, and
    # every result equals the one computed alone.
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(4)
    inputs = [rng.normal(i, 1.0 + i, (64, 32, 8, 8)).astype(np.float32) for i in range(4)]

    def forward(x):
        return _core.batch_norm_forward(x, None, None, None, None, True, 0.1, 1e-5, None)[0]

    threads = _core.get_num_threads()
    try:
        _core.set_num_threads(2)
        alone = [forward(x) for x in inputs]
        with ThreadPoolExecutor(4) as pool:
            for _ in range(5):
                together = list(pool.map(forward, inputs))
                for a, b in zip(alone, together, strict=True):
                    np.testing.assert_array_equal(a, b)
    finally:
        _core.set_num_threads(threads)


@needs_openmp
def test_use_torch_threads_switches_between_torchs_team_and_bntunes_pool():
    try:
        assert bntune.torch.use_torch_threads(False) is False
        assert not _core.openmp_joined()
        assert bntune.torch.use_torch_threads() is True
        assert _core.openmp_joined()
    finally:
        bntune.torch.use_torch_threads(True)
    with pytest.raises(TypeError, match="enabled"):
        bntune.torch.use_torch_threads("no")
