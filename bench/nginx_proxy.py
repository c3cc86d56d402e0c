"""The bare proxy hop for bench/run: nginx from Debian as a plain keep-alive reverse proxy.

It is the floor every gateway figure is read against (issue 18, item 2): one worker, no
access log, keep-alive to the client and to the mock (`upstream … keepalive`), no JSON, no
routing. `proxy_buffering off` so that a stream's chunks go out as they come, as a gateway
relays them (the 1 KB answers fit nginx's buffers either way). Every path goes to the mock, so
`GET /health/readiness` through nginx is the mock's readiness.

The config is written per listening port into bench/.work/nginx-PORT/ (its pid file, error log
and temp paths too); `nginx -c … -p … -e …` runs in the foreground (`daemon off`), so bench/run
starts, pauses (SIGSTOP) and stops (SIGTERM, a fast shutdown) its process group like any other
contender's.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from debian import install_package

# Debian's package with the nginx binary (nginx-light and nginx-full only add modules).
NGINX_PACKAGE = "nginx"
# Connections to the mock kept idle per worker: above wrk's 64 and the drivers' 32.
UPSTREAM_KEEPALIVE = 128
# T6 holds 1,000 client connections and 1,000 to the mock at once.
WORKER_CONNECTIONS = 8192
NOFILE = 65536
# Enough requests per connection that no measure ever sees nginx close one (default 1000).
KEEPALIVE_REQUESTS = 100_000_000

CONFIG = """\
# Written by bench/run (bench/nginx_proxy.py): a bare keep-alive reverse proxy to the mock.
daemon off;
worker_processes 1;
worker_rlimit_nofile {nofile};
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{
    worker_connections {worker_connections};
}}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    keepalive_requests {keepalive_requests};
    keepalive_timeout 75s;
    upstream mock {{
        server 127.0.0.1:{mock_port};
        keepalive {upstream_keepalive};
        keepalive_requests {keepalive_requests};
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://mock;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
        }}
    }}
}}
"""


def nginx_binary() -> str | None:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None)


def install_nginx(no_install: bool, run) -> None:
    """Installs Debian's nginx with apt when it is missing (bench/run runs as root here)."""
    install_package(NGINX_PACKAGE, bool(nginx_binary()), no_install, run,
                    "nginx is missing (run without --no-install, or drop it from --contenders)")


def nginx_version() -> str:
    binary = nginx_binary()
    if not binary:
        return "?"
    r = subprocess.run([binary, "-v"], check=False, text=True, capture_output=True)
    return (r.stderr or r.stdout).strip().removeprefix("nginx version: ")


def nginx_command(port: int, mock_port: int, work: Path) -> list[str]:
    """Writes the config for a proxy on `port` and returns the command that runs it."""
    binary = nginx_binary()
    if not binary:
        raise RuntimeError("nginx is not installed")
    conf_dir = work / f"nginx-{port}"
    conf_dir.mkdir(parents=True, exist_ok=True)
    conf = conf_dir / "nginx.conf"
    conf.write_text(CONFIG.format(
        dir=conf_dir, port=port, mock_port=mock_port, nofile=NOFILE,
        worker_connections=WORKER_CONNECTIONS, keepalive_requests=KEEPALIVE_REQUESTS,
        upstream_keepalive=UPSTREAM_KEEPALIVE))
    # -e: the error log before the config is read (the compiled-in one is stderr here, but
    # another build's may be a path it cannot write); -p: relative paths resolve in conf_dir.
    return [binary, "-c", str(conf), "-p", f"{conf_dir}/", "-e", str(conf_dir / "error.log")]
