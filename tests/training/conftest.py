"""Run training scripts the way users do: `accelerate launch` on CPU, one thread, offline."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def accelerate_launch_command(script: str, *args, num_processes: int = 1) -> list[str]:
    """The README's command; several processes use the multi-process launcher (gloo on CPU)."""
    return [
        sys.executable, "-m", "accelerate.commands.launch",
        *(["--multi_gpu"] if num_processes > 1 else []),
        "--num_processes", str(num_processes),
        "--num_machines", "1",
        "--mixed_precision", "no",
        "--dynamo_backend", "no",
        "--num_cpu_threads_per_process", "1",
        f"training/{script}",
        *map(str, args),
    ]  # fmt: skip


@pytest.fixture
def accelerate_launch():
    """`accelerate_launch(script, *args, num_processes=1, timeout=300)` -> the finished process's
    combined log; fails the test with the log's tail on a non-zero exit."""

    def launch(script: str, *args, num_processes: int = 1, timeout: int = 300) -> str:
        env = dict(os.environ, OMP_NUM_THREADS="1", MPLBACKEND="Agg", HF_HUB_OFFLINE="1")
        done = subprocess.run(
            accelerate_launch_command(script, *args, num_processes=num_processes),
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
        )
        assert done.returncode == 0, done.stdout[-4000:]
        return done.stdout

    return launch


@pytest.fixture
def parse_args_error(repo_script, capsys):
    """`parse_args_error("training/x.py", argv)` -> what the script's `parse_args` printed when it
    refused `argv`; fails the test if it accepted them. In-process: a launch costs about 10 s."""

    def refuse(script: str, argv) -> str:
        with pytest.raises(SystemExit):
            repo_script(script).parse_args([str(a) for a in argv])
        return capsys.readouterr().err

    return refuse
