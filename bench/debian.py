"""Debian packages the benchmark needs beyond what CI installs (nginx, redis-server): installed
with apt when missing, since the bench runs as root on these machines. Imported by bench/run's
helper modules; the package's own service is never used (no init system, or policy-rc.d)."""

import os


def install_package(package: str, present: bool, no_install: bool, run, missing: str) -> None:
    """Installs `package` with apt unless `present`; `run` is bench/run's `sh`. Raises
    RuntimeError with `missing` when installing is not allowed, or with apt's output when it
    fails."""
    if present:
        return
    if no_install:
        raise RuntimeError(missing)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (["apt-get", "update", "-qq"],
                ["apt-get", "install", "-y", "--no-install-recommends", package]):
        r = run(cmd, env=env, timeout=600)
        if r.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{r.stderr[-2000:]}")
