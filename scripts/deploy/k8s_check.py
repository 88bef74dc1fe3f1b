#!/usr/bin/env python3
"""The Kubernetes manifests (deploy/kubernetes/), checked offline:

1. rendered from kustomization.yaml (its `resources` list, the only field it uses: any other field
   fails the check rather than being ignored) into target/k8s-rendered.yaml;
2. validated with kubernetes-validate --strict (PyPI, bundles the Kubernetes JSON schemas) against
   the oldest and newest Kubernetes this targets, with secret.example.yaml; a manifest with an
   unknown field must fail, or the validation proves nothing;
3. every pod template held to the restricted Pod Security Standard, rule by rule (no packaged
   checker exists on PyPI, npm or Debian), and to what the deployment promises: 3 replicas, the
   probes, preStop and a grace period above preStop + SHUTDOWN_DELAY_SECONDS +
   SHUTDOWN_TIMEOUT_SECONDS, a read-only root, resources, the keys Secret mounted where
   API_KEYS_FILE points, REDIS_URL on the Redis Service, selectors that match.

Sets up target/k8s-venv from scripts/deploy/requirements-k8s.txt (reused while it is intact).
Usage: python3 scripts/deploy/k8s_check.py
"""

import hashlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "deploy" / "kubernetes"
REQUIREMENTS = ROOT / "scripts" / "deploy" / "requirements-k8s.txt"
VENV = ROOT / "target" / "k8s-venv"
RENDERED = ROOT / "target" / "k8s-rendered.yaml"
# preStop's `sleep` action is beta (on by default) from 1.30 and GA in 1.34.
KUBERNETES_VERSIONS = ["1.30.0", "1.37.0"]


def ensure_venv() -> Path:
    python = VENV / "bin" / "python"
    stamp = VENV / "requirements.sha256"
    want = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    if python.exists() and stamp.exists() and stamp.read_text() == want:
        return python
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "-r", str(REQUIREMENTS)], check=True)
    stamp.write_text(want)
    return python


def fail(message: str) -> None:
    print(f"FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def render(yaml) -> list:
    kustomization = yaml.safe_load((MANIFESTS / "kustomization.yaml").read_text())
    extra = set(kustomization) - {"apiVersion", "kind", "resources"}
    if extra:
        fail(f"kustomization.yaml uses {sorted(extra)}, which this renderer does not apply")
    docs = []
    for name in kustomization["resources"]:
        docs += [d for d in yaml.safe_load_all((MANIFESTS / name).read_text()) if d]
    RENDERED.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return docs


def validate(files: list) -> None:
    validator = str(VENV / "bin" / "kubernetes-validate")
    versions = [arg for v in KUBERNETES_VERSIONS for arg in ("-k", v)]
    result = subprocess.run([validator, "--strict", *versions, *map(str, files)],
                            capture_output=True, text=True)
    print(result.stdout + result.stderr, end="")
    if result.returncode != 0:
        fail("kubernetes-validate")
    # The negative control: an unknown field in a pod spec must be refused.
    broken = ROOT / "target" / "k8s-broken.yaml"
    broken.write_text((MANIFESTS / "deployment.yaml").read_text()
                      .replace("terminationGracePeriodSeconds:", "terminationGracePeriod:"))
    result = subprocess.run([validator, "--strict", *versions, str(broken)],
                            capture_output=True, text=True)
    broken.unlink()
    if result.returncode == 0:
        fail("kubernetes-validate accepted an unknown field: it validates nothing")
    print("ok: kubernetes-validate --strict refuses an unknown field (the negative control)")


# The restricted profile (kubernetes.io/docs/concepts/security/pod-security-standards), which
# includes the baseline one. Each check returns the problems it finds in one pod spec.
ALLOWED_VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
                   "persistentVolumeClaim", "projected", "secret"}
SAFE_SYSCTLS = {"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range",
                "net.ipv4.ip_unprivileged_port_start", "net.ipv4.tcp_syncookies",
                "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
                "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout",
                "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes"}


def containers(pod: dict) -> list:
    return [c for key in ("initContainers", "containers", "ephemeralContainers")
            for c in pod.get(key, [])]


def restricted_problems(pod: dict) -> list:
    problems = []
    psc = pod.get("securityContext", {})
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(field):
            problems.append(f"{field} is true")
    for volume in pod.get("volumes", []):
        kinds = set(volume) - {"name"}
        if not kinds <= ALLOWED_VOLUMES:
            problems.append(f"volume {volume['name']} is of type {sorted(kinds)}")
    for sysctl in psc.get("sysctls", []):
        if sysctl["name"] not in SAFE_SYSCTLS:
            problems.append(f"sysctl {sysctl['name']}")
    if psc.get("windowsOptions", {}).get("hostProcess"):
        problems.append("hostProcess")
    for where, sc in [("pod", psc)] + [(c["name"], c.get("securityContext", {})) for c in containers(pod)]:
        selinux = sc.get("seLinuxOptions", {})
        if selinux.get("type") not in (None, "", "container_t", "container_init_t", "container_kvm_t", "container_engine_t") \
                or selinux.get("user") or selinux.get("role"):
            problems.append(f"{where}: seLinuxOptions {selinux}")
        if sc.get("appArmorProfile", {}).get("type") not in (None, "RuntimeDefault", "Localhost"):
            problems.append(f"{where}: appArmorProfile")
        if sc.get("seccompProfile", {}).get("type") not in (None, "RuntimeDefault", "Localhost"):
            problems.append(f"{where}: seccompProfile {sc['seccompProfile']}")
        if sc.get("runAsNonRoot") is False:
            problems.append(f"{where}: runAsNonRoot is false")
        if sc.get("runAsUser") == 0:
            problems.append(f"{where}: runAsUser is 0")
    for c in containers(pod):
        sc = c.get("securityContext", {})
        name = c["name"]
        if sc.get("privileged"):
            problems.append(f"{name}: privileged")
        if sc.get("procMount", "Default") != "Default":
            problems.append(f"{name}: procMount")
        if sc.get("windowsOptions", {}).get("hostProcess"):
            problems.append(f"{name}: hostProcess")
        for port in c.get("ports", []):
            if port.get("hostPort", 0) != 0:
                problems.append(f"{name}: hostPort {port['hostPort']}")
        if sc.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{name}: allowPrivilegeEscalation is not set to false")
        if not (sc.get("runAsNonRoot") or psc.get("runAsNonRoot")):
            problems.append(f"{name}: runAsNonRoot is not true (pod or container)")
        seccomp = sc.get("seccompProfile", psc.get("seccompProfile", {})).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            problems.append(f"{name}: seccompProfile is {seccomp}, not RuntimeDefault or Localhost")
        caps = sc.get("capabilities", {})
        if "ALL" not in caps.get("drop", []):
            problems.append(f"{name}: capabilities do not drop ALL")
        if set(caps.get("add", [])) - {"NET_BIND_SERVICE"}:
            problems.append(f"{name}: adds capabilities {caps['add']}")
        # Not in the standard, asked of every container here.
        if sc.get("readOnlyRootFilesystem") is not True:
            problems.append(f"{name}: readOnlyRootFilesystem is not true")
        if not c.get("resources", {}).get("requests") or "memory" not in c["resources"].get("limits", {}):
            problems.append(f"{name}: no resource requests or memory limit")
    return problems


def env_of(container: dict) -> dict:
    return {e["name"]: e.get("value") for e in container.get("env", [])}


def check_promises(docs: list) -> None:
    by = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    deployment = by[("Deployment", "sentiment-api")]
    spec = deployment["spec"]
    pod = spec["template"]["spec"]
    labels = spec["template"]["metadata"]["labels"]
    [api] = [c for c in pod["containers"] if c["name"] == "sentiment-api"]
    env = env_of(api)
    checks = [
        (spec["replicas"] == 3, "3 replicas"),
        (spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0, "rolling updates keep every replica until its successor is ready"),
        (api["livenessProbe"]["httpGet"]["path"] == "/health", "liveness on /health"),
        (api["readinessProbe"]["httpGet"]["path"] == "/health/ready", "readiness on /health/ready"),
    ]
    pre_stop = api["lifecycle"]["preStop"]["sleep"]["seconds"]
    delay = int(env["SHUTDOWN_DELAY_SECONDS"])
    timeout = int(env["SHUTDOWN_TIMEOUT_SECONDS"])
    grace = pod["terminationGracePeriodSeconds"]
    checks.append((pre_stop > 0 and delay > 0, f"preStop sleeps {pre_stop} s, SHUTDOWN_DELAY_SECONDS={delay}"))
    checks.append((grace > pre_stop + delay + timeout,
                   f"terminationGracePeriodSeconds {grace} > preStop {pre_stop} + delay {delay} + timeout {timeout}"))
    mounts = {m["name"]: m["mountPath"] for m in api["volumeMounts"]}
    [keys] = [v for v in pod["volumes"] if "secret" in v]
    checks.append((env["API_KEYS_FILE"].startswith(mounts[keys["name"]] + "/"),
                   f"API_KEYS_FILE in the mounted Secret {keys['secret']['secretName']}"))
    redis_host = env["REDIS_URL"].split("//")[1].split(":")[0]
    checks.append((("Service", redis_host) in by, f"REDIS_URL names the Service {redis_host}"))
    for kind, name in [("Service", "sentiment-api"), ("PodDisruptionBudget", "sentiment-api")]:
        selector = by[(kind, name)]["spec"]["selector"]
        selector = selector.get("matchLabels", selector)
        checks.append((selector.items() <= labels.items(), f"the {kind}'s selector matches the pods"))
    pdb = by[("PodDisruptionBudget", "sentiment-api")]["spec"]
    checks.append((pdb.get("maxUnavailable") == 1, "the PodDisruptionBudget allows one pod down"))
    for ok, what in checks:
        if not ok:
            fail(what)
        print(f"ok: {what}")


def main() -> None:
    if "--inner" not in sys.argv:
        python = ensure_venv()
        os.execv(str(python), [str(python), __file__, "--inner"])
    import yaml

    docs = render(yaml)
    print(f"rendered {len(docs)} resources from kustomization.yaml into {RENDERED.relative_to(ROOT)}")
    validate([RENDERED, MANIFESTS / "secret.example.yaml"])
    pods = [(d["metadata"]["name"], d["spec"]["template"]["spec"]) for d in docs
            if d["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job")]
    pods += [(d["metadata"]["name"], d["spec"]) for d in docs if d["kind"] == "Pod"]
    for name, pod in pods:
        problems = restricted_problems(pod)
        if problems:
            fail(f"{name} breaks the restricted Pod Security Standard: {problems}")
        print(f"ok: {name}: restricted Pod Security Standard, read-only root, resources")
    # The checker's own negative control: a pod it should refuse.
    bad = {"containers": [{"name": "x", "securityContext": {"allowPrivilegeEscalation": True}}],
           "volumes": [{"name": "h", "hostPath": {"path": "/"}}]}
    if len(restricted_problems(bad)) < 5:
        fail("the restricted-profile checker passes a privileged pod")
    check_promises(docs)
    print("kubernetes manifests check: ok")


if __name__ == "__main__":
    main()
