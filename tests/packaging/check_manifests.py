#!/usr/bin/env python3
"""Assertions on a rendered kustomize overlay (read from stdin), for scripts/test-packaging.

usage: kubectl kustomize kustomize/OVERLAY | check_manifests.py base|local

Checks what the schema validation cannot: the gateway's runtime contract (port, probes,
non-root security context, drain time), routes compiled in (no ConfigMap), no committed
Secret, and per overlay the image reference, secret wiring, ingress hosts and autoscaler.
"""
import re
import sys

import yaml

overlay = sys.argv[1]
docs = [d for d in yaml.safe_load_all(sys.stdin) if d]
failures = []


def expect(cond, what):
    if not cond:
        failures.append(what)


def one(kind):
    found = [d for d in docs if d["kind"] == kind]
    expect(len(found) == 1, f"exactly one {kind}, found {len(found)}")
    return found[0] if found else {}


kinds = sorted(d["kind"] for d in docs)
expect("ConfigMap" not in kinds, "no ConfigMap: routes are compiled into the binary")
expect("Secret" not in kinds, "no Secret in the manifests: secrets are created out of band")

dep = one("Deployment")
pod = dep.get("spec", {}).get("template", {}).get("spec", {})
labels = dep.get("spec", {}).get("template", {}).get("metadata", {}).get("labels", {})
containers = pod.get("containers", [])
expect(len(containers) == 1, "one container")
c = containers[0] if containers else {}

expect(pod.get("automountServiceAccountToken") is False, "automountServiceAccountToken: false")
expect(pod.get("terminationGracePeriodSeconds") == 30, "terminationGracePeriodSeconds: 30 (25 s drain + margin)")
psc = pod.get("securityContext", {})
expect(psc.get("runAsNonRoot") is True, "pod runAsNonRoot: true")
expect(psc.get("runAsUser") == 65532, "pod runAsUser: 65532")
expect(psc.get("runAsGroup") == 65532, "pod runAsGroup: 65532")
expect(psc.get("seccompProfile", {}).get("type") == "RuntimeDefault", "seccompProfile RuntimeDefault")
csc = c.get("securityContext", {})
expect(csc.get("readOnlyRootFilesystem") is True, "readOnlyRootFilesystem: true")
expect(csc.get("allowPrivilegeEscalation") is False, "allowPrivilegeEscalation: false")
expect(csc.get("capabilities", {}).get("drop") == ["ALL"], "capabilities drop [ALL]")
expect(not csc.get("capabilities", {}).get("add"), "no capabilities added")

ports = c.get("ports", [])
expect(ports == [{"name": "http", "containerPort": 4000, "protocol": "TCP"}], f"containerPort 4000 named http, got {ports}")
for probe, path in (("livenessProbe", "/health/liveliness"), ("readinessProbe", "/health/readiness")):
    get = c.get(probe, {}).get("httpGet", {})
    expect(get.get("path") == path and get.get("port") == "http", f"{probe} GET {path} on port http, got {get}")
    expect(c.get(probe, {}).get("initialDelaySeconds", 0) <= 5, f"{probe} starts within 5 s")
res = c.get("resources", {})
for section in ("requests", "limits"):
    expect({"cpu", "memory"} <= set(res.get(section, {})), f"resources.{section} set for cpu and memory")


def mebibytes(quantity):
    """A Kubernetes memory quantity (Mi or Gi) in MiB, None for any other form."""
    m = re.fullmatch(r"(\d+)(Mi|Gi)", str(quantity))
    return int(m.group(1)) * (1024 if m.group(2) == "Gi" else 1) if m else None


# The gateway's body budget is the memory limit less 64 MiB (src/budget.rs); a translated
# body costs about twice its size (tests/it/memory.rs), so three of the largest (32 MiB) fit.
limit_mib = mebibytes(res.get("limits", {}).get("memory"))
expect(limit_mib is not None and limit_mib - 64 >= 3 * 2 * 32,
       f"memory limit holds the 64 MiB reserve and three translated 32 MiB bodies, got {limit_mib} MiB")
expect(not any(e.get("name") == "OPENAI_API_KEY" and "value" in e for e in c.get("env", [])),
       "no literal OPENAI_API_KEY")

svc = one("Service")
sports = svc.get("spec", {}).get("ports", [])
expect(len(sports) == 1 and sports[0].get("port") == 4000 and sports[0].get("targetPort") == "http",
       f"Service port 4000 -> http, got {sports}")
sel = svc.get("spec", {}).get("selector", {})
expect(sel and all(labels.get(k) == v for k, v in sel.items()), "Service selector matches the pods")

pdb = one("PodDisruptionBudget")
psel = pdb.get("spec", {}).get("selector", {}).get("matchLabels", {})
expect(psel and all(labels.get(k) == v for k, v in psel.items()), "PodDisruptionBudget selector matches the pods")

image = c.get("image", "")
if overlay == "base":
    expect(image == "model-router:base", f"base image model-router:base, got {image}")
    expect(dep["spec"].get("replicas", 0) >= 2, "base runs at least 2 replicas (PDB allows 1 down)")
elif overlay == "local":
    expect(re.fullmatch(r"model-router:local@sha256:[0-9a-f]{64}", image) is not None,
           f"local image pinned by digest (model-router:local@sha256:...), got {image}")
    expect({"secretRef": {"name": "openai-api-key"}} in c.get("envFrom", []), "envFrom secretRef openai-api-key")
    ing = one("Ingress")
    hosts = sorted(r.get("host") for r in ing.get("spec", {}).get("rules", []))
    expect(hosts == ["litellm.127.0.0.1.sslip.io", "model-router.127.0.0.1.sslip.io"], f"ingress hosts, got {hosts}")
    for r in ing.get("spec", {}).get("rules", []):
        for p in r.get("http", {}).get("paths", []):
            backend = p.get("backend", {}).get("service", {})
            expect(backend.get("name") == svc["metadata"]["name"] and backend.get("port") == {"name": "http"},
                   f"ingress {r.get('host')} routes to the Service's http port")
    hpa = one("HorizontalPodAutoscaler")
    ref = hpa.get("spec", {}).get("scaleTargetRef", {})
    expect(ref.get("kind") == "Deployment" and ref.get("name") == dep["metadata"]["name"], "HPA scales the Deployment")
    expect("replicas" not in dep["spec"], "the HPA, not the Deployment, sets replicas")
else:
    sys.exit(f"unknown overlay {overlay}")

if failures:
    print(f"check_manifests {overlay}: FAILED", *failures, sep="\n  - ", file=sys.stderr)
    sys.exit(1)
print(f"check_manifests {overlay}: ok ({', '.join(kinds)}; image {image})")
