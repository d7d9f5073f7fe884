"""The one process probe shared by the tuning driver and the UI."""

import subprocess
import sys

from tunesmith.artifacts.processes import pid_alive


def test_own_process_is_alive():
    import os

    assert pid_alive(os.getpid())


def test_exited_and_reaped_child_is_not_alive():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert not pid_alive(child.pid)
