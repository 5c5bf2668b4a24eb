"""Running the scripts of mpi_scripts/ under ``mpiexec -n 2``, with a timeout so a hang fails.

The MPI tests need mpi4py and an ``mpiexec`` (``pip install chainrule[mpi]`` brings both: the
``mpich`` wheel installs one next to the Python executable); without them they are skipped.
"""
import os
import pathlib
import shutil
import signal
import subprocess
import sys

import pytest

SCRIPTS = pathlib.Path(__file__).parent / "mpi_scripts"
SRC = pathlib.Path(__file__).resolve().parents[2] / "src"


def find_mpiexec():
    """The mpiexec beside this Python (the mpich wheel's), else the one on PATH, else None."""
    here = pathlib.Path(sys.executable).parent / "mpiexec"
    if here.exists():
        return str(here)
    return shutil.which("mpiexec")


def _oversubscribe_flags(mpiexec):
    """Open MPI refuses more ranks than cores unless told; MPICH's hydra allows it."""
    try:
        out = subprocess.run([mpiexec, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return []
    text = out.stdout + out.stderr
    return ["--oversubscribe"] if ("Open MPI" in text or "OpenRTE" in text) else []


class MPIResult:
    def __init__(self, returncode, stdout, stderr, seconds):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr
        self.seconds = seconds

    def __str__(self):
        return (f"exit status {self.returncode} after {self.seconds:.1f} s\n--- stdout ---\n"
                f"{self.stdout}\n--- stderr ---\n{self.stderr}")


@pytest.fixture(scope="session")
def run_mpi():
    """``run_mpi(script, *args, n=2, timeout=60)`` -> MPIResult; a hang past *timeout* fails."""
    pytest.importorskip("mpi4py")
    mpiexec = find_mpiexec()
    if mpiexec is None:
        pytest.skip("no mpiexec: pip install chainrule[mpi] (the mpich wheel brings one)")
    flags = _oversubscribe_flags(mpiexec)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(SRC)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))

    def run(script, *args, n=2, timeout=60, launcher=True):
        import time
        cmd = [sys.executable, str(SCRIPTS / script), *map(str, args)]
        if launcher:
            cmd = [mpiexec, *flags, "-n", str(n), *cmd]
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=env, cwd=str(SCRIPTS), start_new_session=True)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)       # mpiexec and every rank it started
            out, err = proc.communicate()
            pytest.fail(f"{script} hung: no exit within {timeout} s\n{out}\n{err}")
        return MPIResult(proc.returncode, out, err, time.perf_counter() - start)

    return run
