"""A step's printed lines reach its compute log as they are printed (line
buffering), not when the step ends: what a live view of the logs reads."""

import threading

import pytest

from oprun import instance_for_test
from oprun.execution.compute_logs import log_paths
from oprun.execution.execute_job import execute_job
from oprun.execution.reconstruct import reconstructable
from tests.fixtures import live_output_jobs
from tests.waiting import wait_for


@pytest.mark.parametrize("job_def", [live_output_jobs.live_output_multiprocess, live_output_jobs.live_output_in_process])
def test_a_printed_line_is_in_the_compute_log_while_the_step_runs(tmp_path, job_def):
    release = tmp_path / "release"
    run_config = {"ops": {"prints_then_waits": {"config": {"release_file": str(release)}}}}
    results = []
    with instance_for_test(temp_dir=str(tmp_path / "home")) as instance:

        def run() -> None:
            with execute_job(reconstructable(job_def), instance, run_config=run_config) as result:
                results.append(result.success)

        runner = threading.Thread(target=run)
        runner.start()
        try:
            run_id = wait_for(lambda: next((r.run_id for r in instance.get_runs()), None))
            out_path, _ = log_paths(instance.compute_logs_directory(), run_id, "prints_then_waits")

            def printed() -> bool:
                try:
                    with open(out_path) as f:
                        return "first line, while the step runs" in f.read()
                except FileNotFoundError:
                    return False

            assert wait_for(printed, 30)
            assert not results  # the step is still running
        finally:
            release.touch()
            runner.join(60)
    assert results == [True]
