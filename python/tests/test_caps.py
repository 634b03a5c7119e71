"""Power caps from Python: the journal and the guardian, restored on exit, on an exception and
after SIGKILL of the Python process."""

import os
import signal
import subprocess
import sys

import pytest

import joulebench
from conftest import GPU_LIMIT_MW, eventually


def test_cap_is_set_for_the_block_and_restored_after(fakes):
    with joulebench.power_cap(gpu=0, watts=250) as cap:
        assert fakes.limit_mw() == 250000
        assert len(fakes.journal()) == 1
        assert cap.outcomes[0]["requested_w"] == 250
        assert cap.outcomes[0]["original_w"] == GPU_LIMIT_MW / 1000
        assert cap.guardian_pid > 0
    assert fakes.limit_mw() == GPU_LIMIT_MW
    assert cap.outcomes[0]["restored"]
    assert fakes.journal() == []


def test_cap_is_restored_on_an_exception(fakes):
    with pytest.raises(RuntimeError, match="inside"):
        with joulebench.power_cap(gpu=0, watts=200):
            assert fakes.limit_mw() == 200000
            raise RuntimeError("inside the block")
    assert fakes.limit_mw() == GPU_LIMIT_MW
    assert fakes.journal() == []


def test_a_cap_out_of_range_is_refused_before_anything_is_written(fakes):
    with pytest.raises(ValueError, match="100"):
        with joulebench.power_cap(gpu=0, watts=50):
            pass
    with pytest.raises(ValueError, match="watts"):
        with joulebench.power_cap(gpu=0):
            pass
    assert fakes.limit_mw() == GPU_LIMIT_MW
    assert fakes.journal() == []


def test_the_guardian_restores_the_cap_after_sigkill(fakes):
    script = ("import sys, time, joulebench\n"
              "with joulebench.power_cap(gpu=0, watts=150):\n"
              "    print('capped', flush=True)\n"
              "    time.sleep(600)\n")
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                             env=dict(os.environ))
    try:
        assert child.stdout.readline().strip() == "capped"
        assert fakes.limit_mw() == 150000
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    finally:
        if child.poll() is None:
            child.kill()
    assert eventually(lambda: fakes.limit_mw() == GPU_LIMIT_MW and fakes.journal() == [])
