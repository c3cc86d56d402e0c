#!/usr/bin/env python3
"""Assertions on kustomize/local rendered with the components redis and redis-server (read
from stdin), for scripts/test-packaging.

The gateway reads REDIS_HOST and REDIS_PASSWORD (REDIS_PORT, REDIS_URL, REDIS_CLUSTER_NODES and
REDIS_SSL optional) from the
Secret redis-credentials and keeps its other secrets; the example Redis requires that
password, keeps nothing on disk, runs as non-root and is reachable as the Service "redis".
"""
import sys

import yaml

docs = [d for d in yaml.safe_load_all(sys.stdin) if d]
failures = []


def expect(cond, what):
    if not cond:
        failures.append(what)


def named(kind, name):
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    expect(len(found) == 1, f"exactly one {kind} {name}, found {len(found)}")
    return found[0] if found else {}


def container(deployment):
    containers = deployment.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [{}])
    return containers[0]


expect("Secret" not in [d["kind"] for d in docs], "no Secret in the manifests: redis-credentials is created out of band")
gateway = container(named("Deployment", "model-router"))
env = {e["name"]: e.get("valueFrom", {}).get("secretKeyRef", {}) for e in gateway.get("env", [])}
for key, optional in [
    ("REDIS_HOST", False),
    ("REDIS_PASSWORD", False),
    ("REDIS_PORT", True),
    ("REDIS_URL", True),
    ("REDIS_CLUSTER_NODES", True),
    ("REDIS_SSL", True),
]:
    ref = env.get(key, {})
    expect(ref.get("name") == "redis-credentials" and ref.get("key") == key, f"{key} from Secret redis-credentials")
    expect(bool(ref.get("optional", False)) == optional, f"{key} optional={optional}")
expect(
    {"secretRef": {"name": "openai-api-key"}} in gateway.get("envFrom", []),
    "the overlay's own Secret (openai-api-key) is kept",
)

redis = named("Deployment", "redis")
pod = redis.get("spec", {}).get("template", {}).get("spec", {})
server = container(redis)
args = server.get("args", [])
expect("--requirepass" in args and "$(REDIS_PASSWORD)" in args, "the example Redis requires the Secret's password")
expect(args[args.index("--save") + 1] == "" if "--save" in args else False, "no snapshots")
expect(pod.get("securityContext", {}).get("runAsNonRoot") is True, "the example Redis runs as non-root")
expect(server.get("securityContext", {}).get("readOnlyRootFilesystem") is True, "read-only root filesystem")
service = named("Service", "redis")
expect(any(p.get("port") == 6379 for p in service.get("spec", {}).get("ports", [])), "Service redis on 6379")
labels = redis.get("spec", {}).get("template", {}).get("metadata", {}).get("labels", {})
expect(service.get("spec", {}).get("selector", {}).items() <= labels.items(), "the Service selects the Redis pod")

if failures:
    for f in failures:
        print(f"FAIL: {f}", file=sys.stderr)
    sys.exit(1)
print("ok: kustomize components redis + redis-server wire redis-credentials into the gateway and the example Redis")
