"""Shared fixtures of the module's tests: the dasnet command (DASNET_BINARY, else build/dasnet),
the shared real DAS files (DASNET_DATA_DIR, else ../shared/data/das beside the source tree) and
one tiny synthetic record, data set and model trained by the command, made once per session."""
import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(os.environ.get("DASNET_SOURCE_DIR", Path(__file__).resolve().parents[2]))


def dasnet_binary():
    return os.environ.get("DASNET_BINARY", str(ROOT / "build" / "dasnet"))


def run_cli(*args, cwd=None, check=True):
    """Runs `dasnet ARGS...`; returns the CompletedProcess (text)."""
    r = subprocess.run([dasnet_binary(), *map(str, args)], cwd=cwd, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise AssertionError("dasnet %s exited %d:\n%s%s" % (" ".join(map(str, args)), r.returncode, r.stdout, r.stderr))
    return r


def cli_error(result):
    """The message of `dasnet: error: MESSAGE` on standard error."""
    line = result.stderr.strip().splitlines()[0]
    assert line.startswith("dasnet: error: "), result.stderr
    return line[len("dasnet: error: "):]


@pytest.fixture(scope="session")
def data_dir():
    d = Path(os.environ.get("DASNET_DATA_DIR", ROOT.parent / "shared" / "data" / "das"))
    if not d.is_dir():
        pytest.skip("no shared DAS files at %s (set DASNET_DATA_DIR)" % d)
    return d


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """A synthetic record, a data set of 20 x 200 patches cut from two others, and a depth-2
    model trained on it for 2 epochs by the command (checkpoints and metrics in `ck`)."""
    d = tmp_path_factory.mktemp("tiny")
    for seed, name, duration in ((1, "rec1.h5", 60), (2, "rec2.h5", 60), (9, "test.h5", 20)):
        run_cli("synth", "--channels", 60, "--duration", duration, "--vehicles", 4, "--seed", seed, "-o", name, "-q",
                cwd=d)
    run_cli("dataset", "build", "rec1.h5", "rec2.h5", "-o", "ds.h5", "--per-class", 40, "--patch-channels", 20,
            "--patch-samples", 200, "--seed", 1, "-q", cwd=d)
    run_cli("train", "--data", "ds.h5", "--depth", 2, "--epochs", 2, "--batch-size", 16, "--lr", 0.05,
            "--checkpoint-dir", "ck", "--metrics", "metrics.jsonl", "--no-progress", cwd=d)
    metrics = [json.loads(line) for line in (d / "metrics.jsonl").read_text().splitlines()]
    return {"dir": d, "dataset": d / "ds.h5", "record": d / "test.h5", "checkpoint": d / "ck" / "epoch_0002.h5",
            "metrics": metrics}
