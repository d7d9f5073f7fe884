"""One run folder, one run: a second process is refused with the holder's pid."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from tunesmith.artifacts.lock import RunLock
from tunesmith.errors import UserError

HOLD = """
import sys, time
from tunesmith.artifacts.lock import RunLock
with RunLock(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(60)
"""


def _holder(folder):
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(folder)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_second_process_on_a_folder_exits_2_naming_the_pid(tmp_path, tiny_recipe):
    folder = tmp_path / "run"
    folder.mkdir()
    holder = _holder(folder)
    try:
        recipe = tiny_recipe()
        cli = [sys.executable, "-m", "tunesmith.cli", "run", str(recipe), "-o", str(folder)]
        second = subprocess.run(cli, capture_output=True, text=True, timeout=120)
    finally:
        holder.kill()
        holder.wait()
    assert second.returncode == 2
    assert f"is in use by pid {holder.pid}" in second.stderr
    assert "Traceback" not in second.stderr
    errors = [line for line in second.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert not (folder / "recipe.yaml").exists()  # refused before writing anything


def test_a_killed_holder_leaves_no_stale_lock(tmp_path):
    holder = _holder(tmp_path)
    with pytest.raises(UserError, match=f"pid {holder.pid}"):
        RunLock(tmp_path).__enter__()
    holder.kill()  # like kill -9: no cleanup runs
    holder.wait()
    time.sleep(0.1)
    with RunLock(tmp_path) as lock:
        assert lock.path.read_text().strip() == str(os.getpid())
