"""cr.distributed under a real MPI: scripts run with ``mpiexec -n 2`` (see conftest.py).

Skipped without mpi4py and an mpiexec (``pip install chainrule[mpi]``).
"""
import pytest

pytest.importorskip("mpi4py")


def _ok(result, *lines):
    assert result.returncode == 0, str(result)
    for line in lines:
        assert line in result.stdout, f"missing {line!r}\n{result}"


def test_collectives(run_mpi):
    _ok(run_mpi("collectives.py"), "ok collectives")


def test_two_ranks_train_the_weights_of_one_process(run_mpi):
    _ok(run_mpi("equivalence.py"), "ok sgd_momentum", "ok adam", "ok adam_uneven_and_empty_shards",
        "ok tiny_buckets", "ok keras_sgd_global_clipnorm", "ok unused_parameter",
        "ok batchnorm_per_rank_statistics", "done equivalence")


def test_buckets_start_in_order_in_one_process(run_mpi):
    _ok(run_mpi("buckets_self.py", launcher=False), "ok bucket_order", "ok bucket_passes")


def test_buckets_start_during_backward_and_change_nothing(run_mpi):
    _ok(run_mpi("overlap.py"), "ok buckets_start_during_backward", "ok bit_identical_even_cap4",
        "ok bit_identical_uneven_and_empty_cap0.0001", "ok backward_passes_per_step_2",
        "ok zero_grad_drops_passes", "ok usage_errors", "ok one_bucket_accumulates_freely",
        "ok hooks_follow_the_optimizer",
        "ok user_collectives_between_backward_and_step", "done overlap")


def test_sync_batchnorm_on_two_ranks_equals_batchnorm_on_the_global_batch(run_mpi):
    _ok(run_mpi("sync_batchnorm.py"), "ok sync_batchnorm_4d", "ok sync_batchnorm_training",
        "done sync_batchnorm")


def test_broadcast_and_bit_identical_resume(run_mpi, tmp_path):
    _ok(run_mpi("broadcast_resume.py", tmp_path), "ok broadcast_parameters",
        "ok broadcast_optimizer_state", "ok resume_bit_identical")


def test_distributed_sampler_takes_the_world(run_mpi):
    _ok(run_mpi("sampler_world.py"), "ok sampler_world")


def test_plain_python_is_a_world_of_one(run_mpi, tmp_path):
    _ok(run_mpi("single_process.py", tmp_path / "ckpt.cr", launcher=False), "ok single_process")


def test_a_rank_that_raises_ends_the_job_promptly(run_mpi):
    result = run_mpi("fault_raise.py", timeout=30)
    assert result.returncode != 0, str(result)
    assert result.seconds < 15, f"the job took {result.seconds:.1f} s to end\n{result}"
    assert "rank 1 fails on purpose" in result.stderr, str(result)
    assert "aborting the MPI job" in result.stderr, str(result)
    assert "got past the collective" not in result.stdout


def test_abort_ends_every_rank_with_its_code(run_mpi):
    result = run_mpi("fault_abort.py", timeout=30)
    assert result.returncode == 3, str(result)
    # chainrule's own line, flushed 0.5 s before MPI_Abort (MPICH's own message may be lost when
    # the abort tears down the launcher's output forwarding)
    assert "rank 1 of 2 called abort(3)" in result.stderr, str(result)
    # (MPICH may let rank 0's pending barrier return while the abort tears the job down, so
    # rank 0 can print once more before it is killed: what matters is the prompt exit with 3)
    assert result.seconds < 20, str(result)


def test_different_models_fail_on_every_rank_naming_the_parameter(run_mpi):
    result = run_mpi("fault_shapes.py")
    assert result.returncode == 0, str(result)
    for where in ("broadcast_parameters", "DistributedOptimizer"):
        for rank in (0, 1):
            line = next((ln for ln in result.stdout.splitlines()
                         if ln.startswith(f"rank {rank} {where}:")), None)
            assert line is not None, f"rank {rank} did not raise in {where}\n{result}"
            assert "rank 1: parameter '0.weight' has shape (9, 4), but on rank 0 (8, 4)" in line


def test_keras_fit_on_two_ranks_equals_one_process(run_mpi, tmp_path):
    import numpy as np
    one, two = tmp_path / "one.npz", tmp_path / "two.npz"
    single = run_mpi("fit_job.py", one, launcher=False)
    assert single.returncode == 0, str(single)
    result = run_mpi("fit_job.py", two)
    assert result.returncode == 0, str(result)
    assert result.stdout.count("Epoch 4/4") == 1, f"only rank 0 prints\n{result}"
    a, b = np.load(one), np.load(two)
    np.testing.assert_allclose(b["weights"], a["weights"], rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(b["val_loss"], a["val_loss"], rtol=1e-6)


def test_heart_job_on_two_ranks_reports_the_accuracy_of_one_process(run_mpi, tmp_path):
    def report(result):
        assert result.returncode == 0, str(result)
        lines = [ln for ln in result.stdout.splitlines() if ln.startswith("test accuracy")]
        assert len(lines) == 1, f"one report, from rank 0\n{result}"
        return lines[0].split("(")[0]               # "test accuracy 0.8197   ROC AUC 0.9297"

    args = ["train", "heart", "--epochs", "30", "--quiet"]
    one = report(run_mpi("heart_cli.py", *args, "--out", tmp_path / "one", launcher=False))
    two = report(run_mpi("heart_cli.py", *args, "--out", tmp_path / "two", timeout=120))
    assert two == one
    assert (tmp_path / "two" / "model.chainrule").is_file()
