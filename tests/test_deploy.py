"""The deployment recipes: compose.yaml (one server, and the `shared` profile: Redis, two
servers behind a sticky proxy, two workers) and deploy/k8s.yaml (web Deployment, worker
Deployment with its autoscaler, Redis as a StatefulSet). No Docker engine or cluster is needed:
the files are parsed with PyYAML and what would break a deployment is checked (a Service that
selects the wrong pods, a worker the autoscaler cannot scale, a Redis URL naming no service,
a number where Kubernetes wants a string, a proxy that is not sticky)."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from tests.test_container import dockerfile_env, instructions_of, parse_dockerfile

ROOT = Path(__file__).resolve().parents[1]
WORKER_COMMAND = ["python", "-m", "rnnviz", "worker"]
SHARED = {"redis", "web-a", "web-b", "worker", "proxy"}


def _no_tabs(path: Path) -> str:
    text = path.read_text()
    assert "\t" not in text, f"{path.name}: YAML forbids tabs for indentation"
    return text


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(_no_tabs(ROOT / "compose.yaml"))


@pytest.fixture(scope="module")
def k8s() -> dict[tuple[str, str], dict]:
    documents = [d for d in yaml.safe_load_all(_no_tabs(ROOT / "deploy" / "k8s.yaml")) if d]
    objects = {(d["kind"], d["metadata"]["name"]): d for d in documents}
    assert len(objects) == len(documents), "two objects of one kind share a name"
    return objects


def _max_upload_mb() -> int:
    return tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["server"][
        "maxUploadSize"]


# ---------------------------------------------------------------- compose


def test_compose_single_server_is_the_default(compose):
    services = compose["services"]
    single = services["rnnviz"]
    assert "profiles" not in single, "`docker compose up` must start the single server"
    assert all("shared" in services[name].get("profiles", []) for name in SHARED)
    assert set(services) == {"rnnviz"} | SHARED
    assert single["ports"] == ["8501:8501"]
    assert single["volumes"] == ["runs:/data/runs"]
    assert single["restart"] == "unless-stopped"
    assert single["build"]["context"] == "."
    assert "runs" in compose["volumes"]
    # the health check comes from the Dockerfile; an override here would drift
    assert "healthcheck" not in single


def test_compose_shared_profile(compose):
    services = compose["services"]
    redis_url = "redis://redis:6379/0"
    for name in ("web-a", "web-b", "worker"):
        service = services[name]
        assert service["image"] == services["rnnviz"]["image"], name  # one image for all
        assert service["build"] == services["rnnviz"]["build"], name
        assert service["environment"]["RNNVIZ_REDIS_URL"] == redis_url, name
        assert service["depends_on"]["redis"]["condition"] == "service_healthy", name
    for name in ("web-a", "web-b"):  # reached through the proxy only, with the image's check
        assert "ports" not in services[name] and "healthcheck" not in services[name]
    worker = services["worker"]
    assert worker["command"] == WORKER_COMMAND
    assert worker["deploy"]["replicas"] == 2
    assert worker["healthcheck"] == {"disable": True}, "the image's check probes port 8501"
    redis = services["redis"]
    command = " ".join(redis["command"])
    assert "--appendonly yes" in command and "--maxmemory-policy noeviction" in command
    assert redis["volumes"] == ["redis-data:/data"] and "redis-data" in compose["volumes"]
    assert redis["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]


def test_compose_proxy_is_sticky_and_reaches_both_servers(compose):
    proxy = compose["services"]["proxy"]
    assert proxy["image"].startswith("caddy:")
    assert proxy["ports"] == ["8080:80"]
    source, target = proxy["volumes"][0].split(":")[:2]
    assert target == "/etc/caddy/Caddyfile"
    caddyfile = (ROOT / source).read_text()
    assert re.search(r"reverse_proxy\s+web-a:8501\s+web-b:8501\s*\{", caddyfile)
    assert re.search(r"^\s*lb_policy cookie \S+", caddyfile, re.M), "sessions must be sticky"
    assert "health_uri /_stcore/health" in caddyfile
    size = re.search(r"max_size (\d+)MB", caddyfile)
    assert size and int(size.group(1)) >= _max_upload_mb()
    assert set(proxy["depends_on"]) == {"web-a", "web-b", "worker"}


# ---------------------------------------------------------------- k8s


def _pod_spec(obj: dict) -> dict:
    return obj["spec"]["template"]["spec"]


def _env(container: dict) -> dict:
    return {e["name"]: e for e in container.get("env", [])}


def test_k8s_objects(k8s):
    assert set(k8s) == {
        ("Deployment", "rnnviz"), ("Service", "rnnviz"), ("Ingress", "rnnviz"),
        ("Deployment", "rnnviz-worker"), ("HorizontalPodAutoscaler", "rnnviz-worker"),
        ("Service", "rnnviz-redis"), ("StatefulSet", "rnnviz-redis")}


def test_k8s_selectors_pick_the_right_pods(k8s):
    pods = {}
    for (kind, name), obj in k8s.items():
        if kind in ("Deployment", "StatefulSet"):
            labels = obj["spec"]["template"]["metadata"]["labels"]
            assert obj["spec"]["selector"]["matchLabels"].items() <= labels.items(), name
            pods[name] = labels
    for service, target in (("rnnviz", "rnnviz"), ("rnnviz-redis", "rnnviz-redis")):
        selector = k8s["Service", service]["spec"]["selector"].items()
        chosen = {name for name, labels in pods.items() if selector <= labels.items()}
        assert chosen == {target}, f"Service {service} selects {chosen}"


def test_k8s_env_values_are_strings_and_redis_is_reachable(k8s):
    redis_service = k8s["Service", "rnnviz-redis"]
    port = redis_service["spec"]["ports"][0]["port"]
    for name in ("rnnviz", "rnnviz-worker"):
        (container,) = _pod_spec(k8s["Deployment", name])["containers"]
        env = _env(container)
        for item in env.values():  # Kubernetes rejects env values that are not strings
            assert "valueFrom" in item or isinstance(item["value"], str), item
        assert env["RNNVIZ_REDIS_URL"]["value"] == f"redis://rnnviz-redis:{port}/0", name


def test_k8s_web_deployment(k8s):
    web = k8s["Deployment", "rnnviz"]
    assert web["spec"]["replicas"] == 3
    (container,) = _pod_spec(web)["containers"]
    assert container["ports"] == [{"name": "http", "containerPort": 8501}]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] == "/_stcore/health", probe
    assert {"requests", "limits"} <= set(container["resources"])
    assert re.fullmatch(r"\d+", _env(container)["RNNVIZ_MAX_CONCURRENT_JOBS"]["value"])
    assert "command" not in container, "the image's CMD starts the server"
    assert k8s["Service", "rnnviz"]["spec"]["sessionAffinity"] == "ClientIP"


def test_k8s_ingress_is_sticky_and_websocket_friendly(k8s):
    ingress = k8s["Ingress", "rnnviz"]
    prefix = "nginx.ingress.kubernetes.io/"
    annotations = {k.removeprefix(prefix): v for k, v in
                   ingress["metadata"]["annotations"].items() if k.startswith(prefix)}
    for key, value in annotations.items():  # unquoted numbers are rejected
        assert isinstance(value, str), f"{key} must be a quoted string"
    assert annotations["affinity"] == "cookie" and annotations["session-cookie-name"]
    assert int(annotations["proxy-read-timeout"]) >= 3600
    assert int(annotations["proxy-send-timeout"]) >= 3600
    assert int(annotations["proxy-body-size"].removesuffix("m")) >= _max_upload_mb()
    assert ingress["spec"]["ingressClassName"] == "nginx"
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == "rnnviz"


def test_k8s_worker_deployment_and_its_autoscaler(k8s, compose):
    worker = k8s["Deployment", "rnnviz-worker"]
    (container,) = _pod_spec(worker)["containers"]
    assert container["image"] == _pod_spec(k8s["Deployment", "rnnviz"])["containers"][0]["image"]
    assert container["command"] == WORKER_COMMAND == compose["services"]["worker"]["command"]
    assert "ports" not in container
    # a CPU utilisation target is a share of the request: without one the HPA cannot scale
    assert container["resources"]["requests"]["cpu"]
    assert worker["spec"]["replicas"] >= 1
    hpa = k8s["HorizontalPodAutoscaler", "rnnviz-worker"]
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                             "name": "rnnviz-worker"}
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    assert metric["resource"]["target"]["type"] == "Utilization"


def test_k8s_redis_statefulset_persists_its_data(k8s):
    redis = k8s["StatefulSet", "rnnviz-redis"]
    assert redis["spec"]["serviceName"] == "rnnviz-redis"
    assert redis["spec"]["replicas"] == 1
    (container,) = _pod_spec(redis)["containers"]
    args = " ".join(container["args"])
    assert "--appendonly yes" in args and "--maxmemory-policy noeviction" in args
    data_dir = container["args"][container["args"].index("--dir") + 1]
    (claim,) = redis["spec"]["volumeClaimTemplates"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts[claim["metadata"]["name"]] == data_dir
    assert claim["spec"]["resources"]["requests"]["storage"]
    assert container["ports"][0]["containerPort"] == \
        k8s["Service", "rnnviz-redis"]["spec"]["ports"][0]["port"]


# ---------------------------------------------------------------- the image runs the worker


def test_the_image_runs_rnnviz_commands_from_anywhere(tmp_path):
    """The Dockerfile's ``rnnviz`` command, written as the image writes it, runs the CLI from
    another working directory with the image's PYTHONPATH (this checkout standing for /app)."""
    dockerfile = parse_dockerfile((ROOT / "Dockerfile").read_text())
    (shim_run,) = [r for r in instructions_of(dockerfile, "RUN") if "/usr/local/bin/rnnviz" in r]
    write = shim_run.split("&&")[0].replace("/usr/local/bin/rnnviz", str(tmp_path / "rnnviz"))
    subprocess.run(["sh", "-c", write], check=True)
    shim = (tmp_path / "rnnviz").read_text()
    assert shim.startswith("#!/bin/sh\n") and 'exec python -m rnnviz "$@"' in shim, shim
    assert dockerfile_env(dockerfile)["PYTHONPATH"] == "/app"
    # `python` is this interpreter, as in the image
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "PYTHONPATH": str(ROOT),
           "HOME": str(tmp_path)}
    result = subprocess.run(["sh", str(tmp_path / "rnnviz"), "--help"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "pretrain" in result.stdout
    worker = subprocess.run(["sh", str(tmp_path / "rnnviz"), "worker", "--help"], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=120)
    if "invalid choice: 'worker'" in worker.stderr:
        pytest.skip("the `worker` command is not on this branch yet (shared mode's own)")
    assert worker.returncode == 0, worker.stderr
