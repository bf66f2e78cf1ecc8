"""Smoke test of benchmarks/snapshot_load.py: a tiny run against minikv, then its report files.

Runs the harness as users do (a subprocess), with a few hundred keys and ~2 s of load; the save
is stretched with rdb-key-save-delay so that the INFO sampler, the probe and the writers all see
it running. The PNG is checked when matplotlib is installed (the test extra installs it); the
rich live view, when rich is installed (only the bench extra does). ``--type mix`` runs on 2,000
keys against minikv and redis-server, and against a running minikv whose keys are then checked.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers import ROOT, ServerProcess

SCRIPT = ROOT / "benchmarks" / "snapshot_load.py"
KEYS = 300
FIELDS = {
    "rss_bytes",
    "fork_usec",
    "save_seconds",
    "cow_peak_bytes",
    "cow_pct_of_rss",
    "snapshot_bytes",
    "load_seconds",
    "write_ops_per_sec_before",
    "write_ops_per_sec_during",
    "latency_ms",
    "samples",
}


def run_harness(*args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--no-live", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def have(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def check_png(path: Path) -> None:
    if have("matplotlib"):
        data = path.read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000
    else:
        assert not path.exists()


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("snapload")
    run_harness(
        *("--keys", str(KEYS), "--value-size", "64", "--duration", "2", "--before", "0.6"),
        *("--write-clients", "2", "--write-rate", "20k", "--out", str(out)),
        # 1 ms per key: the save runs ~0.3 s, a few INFO samples and many probes long.
        *("--server-config", "rdb-key-save-delay=1000"),
    )
    return out, json.loads((out / "report.json").read_text())


def test_report_json_has_the_issue_fields(report: tuple[Path, dict[str, Any]]) -> None:
    _, doc = report
    assert set(doc) == {"config", "servers"}
    assert list(doc["servers"]) == ["minikv"]
    cfg = doc["config"]
    assert (cfg["keys"], cfg["value_size"], cfg["write_clients"]) == (KEYS, 64, 2)
    assert cfg["type"] == "string"
    assert cfg["write_rate"] == 20_000
    r = doc["servers"]["minikv"]
    assert set(r) >= FIELDS
    assert r["keys"] == KEYS
    assert r["rss_bytes"] > 0 and r["fork_usec"] > 0
    assert r["save_seconds"] >= 0.2  # 300 keys x 1 ms of rdb-key-save-delay
    assert 0 < r["cow_peak_bytes"] < r["rss_bytes"]
    assert r["cow_pct_of_rss"] == pytest.approx(100 * r["cow_peak_bytes"] / r["rss_bytes"])
    assert r["snapshot_bytes"] > KEYS * 64
    assert r["load_seconds"] > 0
    # Paced at 20k SET/s in all: the writers got some of it through before and during the save.
    assert 0 < r["write_ops_per_sec_before"] <= 25_000
    assert r["write_ops_per_sec_during"] > 0
    for phase in ("before", "during"):
        lat = r["latency_ms"][phase]
        assert set(lat) >= {"p50", "p99", "max"}
        assert 0 < lat["p50"] <= lat["p99"] <= lat["max"]
        assert r["probe_pings"][phase] > 0


def test_samples_are_the_time_series(report: tuple[Path, dict[str, Any]]) -> None:
    _, doc = report
    smp = doc["servers"]["minikv"]["samples"]
    ev = smp["events"]
    assert ev["load_start"] < ev["bgsave"] == 0 < ev["save_end"] <= ev["end"]
    info = smp["info"]
    # INFO every 100 ms over ~2 s.
    assert len(info) >= 10
    assert [s["t"] for s in info] == sorted(s["t"] for s in info)
    assert {"cow_bytes", "fork_perc", "ops_per_sec", "rss_bytes", "bgsave_in_progress"} <= set(
        info[0]
    )
    saving = [s for s in info if s["bgsave_in_progress"]]
    assert saving, "no INFO sample saw the save running"
    assert all(s["save_keys_total"] == KEYS for s in saving)
    # The harness read the child's Private_Dirty from /proc while it ran.
    assert any(s["child_private_dirty_bytes"] for s in saving)
    assert sum(b["ops_per_sec"] for b in smp["writes"]) > 0
    assert any(b["n"] for b in smp["latency"])


def test_report_md_and_png(report: tuple[Path, dict[str, Any]]) -> None:
    out, _ = report
    md = (out / "report.md").read_text()
    assert "| metric | minikv |" in md
    for label in ("COW peak, % of RSS", "write SET/s during the save", "probe p99 during (ms)"):
        assert f"| {label} |" in md
    assert "snapshot_load.py" in md  # the command that produced it
    check_png(out / "report.png")


def test_sweep_against_a_running_server(tmp_path: Path) -> None:
    with ServerProcess() as srv:
        out = tmp_path / "sweep"
        run_harness(
            *("--host", "127.0.0.1", "--port", str(srv.port), "--keys", "200"),
            *("--sweep", "--sweep-rates", "0,5k", "--sweep-sizes", "16", "--duration", "1.2"),
            *("--before", "0.4", "--write-clients", "1", "--out", str(out)),
        )
    doc = json.loads((out / "sweep.json").read_text())
    runs = doc["runs"]
    assert [(r["server"], r["value_size"], r["write_rate_target"]) for r in runs] == [
        ("minikv", 16, 0),
        ("minikv", 16, 5000),
    ]
    assert runs[0]["write_ops_per_sec_during"] == 0
    assert runs[1]["write_ops_per_sec_before"] > 0
    assert all(r["load_seconds"] is None and "samples" not in r for r in runs)
    assert "| 16 | 5,000 | minikv |" in (out / "sweep.md").read_text()
    check_png(out / "sweep.png")


MIX_KEYS = 2000
# key:<i> of a --type mix dataset is TYPES[i % 5]; collections hold 4 members.
TYPES = ("string", "hash", "set", "list", "zset")
SIZE = {"hash": "HLEN", "set": "SCARD", "list": "LLEN", "zset": "ZCARD"}


def test_mix_of_types_against_both_servers(tmp_path: Path) -> None:
    out = tmp_path / "mix"
    run_harness(
        *("--type", "mix", "--compare-redis", "--keys", str(MIX_KEYS), "--value-size", "64"),
        *("--duration", "1.5", "--before", "0.5", "--write-clients", "2", "--write-rate", "20k"),
        # 0.2 ms per key: the save runs ~0.4 s, so writes land while it runs.
        *("--server-config", "rdb-key-save-delay=200", "--out", str(out)),
    )
    doc = json.loads((out / "report.json").read_text())
    assert doc["config"]["type"] == "mix"
    assert list(doc["servers"]) == ["minikv", "redis"]
    for kind, r in doc["servers"].items():
        # Writers modify keys in place: none added or removed, and all of them came back from
        # the snapshot (the harness also checked the TYPE of key:0..9 after the restart).
        assert r["keys"] == r["keys_loaded_on_restart"] == MIX_KEYS, kind
        # Exit status 0 means every reply was the expected one (a writer stops on any other).
        assert r["write_ops"] > 0 and r["write_ops_per_sec_during"] > 0, kind
        assert r["snapshot_bytes"] > 0 and r["load_seconds"] > 0, kind
    md = (out / "report.md").read_text()
    assert "2,000 keys of type mix" in md
    assert "| write ops/s during the save |" in md


def test_mix_writers_keep_types_and_sizes(tmp_path: Path) -> None:
    with ServerProcess() as srv:
        run_harness(
            *("--host", "127.0.0.1", "--port", str(srv.port), "--type", "mix"),
            *("--keys", "500", "--duration", "1.2", "--before", "0.4", "--write-clients", "2"),
            *("--write-rate", "20k", "--out", str(tmp_path / "ext")),
        )
        c = srv.client()
        assert c.dbsize() == 500
        for i in range(20):
            key = f"key:{i}"
            kind = TYPES[i % 5]
            assert c.type(key) == kind.encode(), key
            if kind in SIZE:
                assert c.execute_command(SIZE[kind], key) == 4, key
        # The writers changed values in place: a hash field, a list element, a zset score.
        assert any(
            c.hget(f"key:{i}", f"f{j}").startswith(b"w") for i in range(1, 500, 5) for j in range(4)
        )
        assert any(
            c.lindex(f"key:{i}", j).startswith(b"w") for i in range(3, 500, 5) for j in range(4)
        )
        assert any(
            s >= 4
            for i in range(4, 500, 5)
            for _, s in c.zrange(f"key:{i}", 0, -1, withscores=True)
        )
    doc = json.loads((tmp_path / "ext" / "report.json").read_text())
    assert doc["config"]["type"] == "mix"
    assert doc["servers"]["minikv"]["write_ops"] > 0


def test_live_view_renders() -> None:
    pytest.importorskip("rich", reason="rich (the bench extra) is not installed")
    from io import StringIO

    from rich.console import Console

    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import snapshot_load
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    state = {
        "server": "minikv",
        "port": 1234,
        "phase": "saving",
        "elapsed": 3.2,
        "save_keys_total": 1000,
        "save_keys_processed": 250,
        "fork_perc": 25.0,
        "cow_bytes": 5 * 1024 * 1024,
        "rss_bytes": 50 * 1024 * 1024,
        "write_rate": 12345.0,
        "p99_ms": 1.5,
    }
    console = Console(file=StringIO(), width=100)
    console.print(snapshot_load.render_rich(state))
    text = console.file.getvalue()
    assert "snapshot under load: string keys" in text
    assert "250 / 1,000 keys (25 %)" in text
    assert "5.0 MB (10.0 % of RSS)" in text
    assert "12,345" in text and "1.50" in text
    console = Console(file=StringIO(), width=100)
    console.print(snapshot_load.render_rich(state | {"type": "zset"}))
    text = console.file.getvalue()
    assert "snapshot under load: zset keys" in text and "write ops/s" in text
