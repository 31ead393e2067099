"""Run a benchmark script the way a user does and read the JSON it writes (no timing is asserted)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support.paths import REPO


def run_benchmark(script: str, *args, json_path: Path, json_flag: str = "--json", timeout: int = 600,
                  env: dict | None = None) -> tuple[subprocess.CompletedProcess, dict]:
    """``python3 benchmarks/<script> *args <json_flag> <json_path>`` from the repository root.

    Asserts a zero exit status (showing the script's output otherwise) and returns the finished
    process (for its stdout) and the parsed JSON.
    """
    cmd = [sys.executable, f"benchmarks/{script}", *map(str, args), json_flag, str(json_path)]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc, json.loads(Path(json_path).read_text())
