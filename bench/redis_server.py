"""The Redis of bench/run's `model-router-redis` contender (issue 14 item 5, issue 18 item 6).

Debian's redis-server (installed with apt when missing, or the one on PATH), never the system
service: bench/run starts it on a free loopback port with a random password, no persistence
(`--save '' --appendonly no`), pinned to the mock's core, in its own process group, and stops
it at the end with the other children. The gateway reaches it through LiteLLM's `REDIS_URL`
fallback (`redis://:PASSWORD@127.0.0.1:PORT`, read by src/state/config.rs).

`command()` is a minimal RESP client (standard library only) for the readiness probe, for
`CONFIG RESETSTAT` before a measure and `INFO commandstats` / `INFO stats` after it: the Redis
commands a request costs. `INFO commandstats` also counts the calls a Lua script makes inside
Redis (`redis.call`), which are no round trips: `script_inner()` names them from the scripts'
source, and `total_reads_processed` (socket reads with data or EOF) bounds the round trips.
"""

from __future__ import annotations

import re
import secrets
import shutil
import socket
from pathlib import Path

from debian import install_package

REDIS_PACKAGE = "redis-server"
# Commands the bench itself sends (probe, stats) or the client's connection set-up: not part
# of what a request costs.
HOUSEKEEPING = frozenset({"auth", "ping", "info", "config|resetstat", "config", "hello",
                          "client|setinfo", "client|setname", "client", "select"})
# Reads Redis processes for the bench's own mark and read-out (the reset connection's EOF and
# the read-out's AUTH + INFO), found by running them on an idle server.
OWN_READS = 2


def redis_binary() -> str | None:
    return shutil.which("redis-server")


def install_redis(no_install: bool, run) -> None:
    """Installs Debian's redis-server with apt when it is missing (`run` is bench/run's `sh`)."""
    install_package(REDIS_PACKAGE, bool(redis_binary()), no_install, run,
                    "redis-server is missing (run without --no-install, or drop "
                    "model-router-redis from --contenders)")


def redis_version(run) -> str:
    binary = redis_binary()
    if not binary:
        return "?"
    out = run([binary, "--version"]).stdout.strip()
    version = next((w for w in out.split() if w.startswith("v=")), out)
    return version.removeprefix("v=")


def new_password() -> str:
    return f"bench-{secrets.token_hex(16)}"


def redis_command_line(port: int, password: str, work: Path) -> list[str]:
    binary = redis_binary()
    if not binary:
        raise RuntimeError("redis-server is not installed")
    return [binary, "--port", str(port), "--bind", "127.0.0.1", "--requirepass", password,
            "--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning",
            "--dir", str(work)]


def redis_url(port: int, password: str) -> str:
    return f"redis://:{password}@127.0.0.1:{port}"


def _encode(args: list[str]) -> bytes:
    out = [f"*{len(args)}\r\n".encode()]
    for a in args:
        b = a.encode()
        out.append(f"${len(b)}\r\n".encode() + b + b"\r\n")
    return b"".join(out)


def _read_reply(f) -> object:
    line = f.readline()
    if not line:
        raise OSError("Redis closed the connection")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        raise OSError(f"Redis: {rest.decode()}")
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)
        return data[:-2].decode(errors="replace")
    if kind == b"*":
        return [_read_reply(f) for _ in range(int(rest))]
    raise OSError(f"Redis: unexpected reply {line!r}")


def command(port: int, password: str, *args: str, timeout: float = 2.0) -> object:
    """AUTH, then one command; its reply (OSError when Redis is down or refuses)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(_encode(["AUTH", password]) + _encode(list(args)))
        f = s.makefile("rb")
        _read_reply(f)
        return _read_reply(f)


def answers(port: int, password: str) -> bool:
    try:
        return command(port, password, "PING", timeout=0.5) == "PONG"
    except OSError:
        return False


def script_inner(scripts_source: Path) -> frozenset[str]:
    """The commands the gateway's Lua scripts run inside Redis (`redis.call('NAME', …)`)."""
    try:
        text = scripts_source.read_text()
    except OSError:
        return frozenset()
    return frozenset(n.lower() for n in re.findall(r"redis\.p?call\(\s*'(\w+)'", text))


def reads_processed(port: int, password: str) -> int:
    """Socket reads Redis processed since the last `CONFIG RESETSTAT`, less the bench's own."""
    text = str(command(port, password, "INFO", "stats"))
    for line in text.splitlines():
        if line.startswith("total_reads_processed:"):
            return max(int(line.split(":", 1)[1]) - OWN_READS, 0)
    return 0


def command_stats(port: int, password: str) -> dict[str, int]:
    """Calls per command since the last `CONFIG RESETSTAT`, without the housekeeping ones."""
    text = command(port, password, "INFO", "commandstats")
    calls: dict[str, int] = {}
    for line in str(text).splitlines():
        if not line.startswith("cmdstat_"):
            continue
        name, _, fields = line.removeprefix("cmdstat_").partition(":")
        if name in HOUSEKEEPING:
            continue
        stats = dict(kv.split("=", 1) for kv in fields.split(","))
        calls[name] = int(stats.get("calls", 0))
    return calls


def reset_stats(port: int, password: str) -> None:
    command(port, password, "CONFIG", "RESETSTAT")
