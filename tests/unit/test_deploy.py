"""deploy/: the compose file, the Dockerfile and the Kubernetes manifests, checked without a
Docker engine or a cluster (none runs on the project's machines).

- compose.yaml validates against the Compose Specification's JSON schema (copied into
  deploy/schema/ from the compose-spec repository, Apache-2.0), and every file or folder it
  mounts or builds from exists;
- every path the Dockerfile COPYs exists, and its install steps are the Makefile's
  `install` recipe (which .ci/run runs), command for command;
- every Kubernetes manifest parses, has the keys its kind requires, and the workers'
  Deployment, Service, ConfigMap and the operators' resources agree with each other;
- a worker that binds the API beyond loopback stores the ops token's hash before it starts
  (issue 14 refuses such a bind without a token), and Prometheus (compose and the
  ServiceMonitor) and the health check send that same token; every variable compose reads
  is documented at its top.
"""

from __future__ import annotations

import argparse
import base64
import importlib.util
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest
import yaml

from cli.parser import build_parser
from services.access.guard import is_loopback
from tests.conftest import REPO

DEPLOY = REPO / "deploy"
COMPOSE = DEPLOY / "compose.yaml"


def _compose() -> dict[str, Any]:
    return dict(yaml.safe_load(COMPOSE.read_text("utf-8")))


def test_compose_file_is_valid_against_the_compose_specification_schema() -> None:
    """deploy/compose.yaml is a valid Compose file (the schema `docker compose config`
    applies), with the stack issue 15 asks for."""
    schema = orjson.loads((DEPLOY / "schema" / "compose-spec.json").read_bytes())
    doc = _compose()
    jsonschema.validate(doc, schema)
    services = doc["services"]
    assert {f"kafka-{i}" for i in (1, 2, 3)} <= services.keys()
    assert {f"keeper-{i}" for i in (1, 2, 3)} <= services.keys()
    assert {"ch-s1-r1", "ch-s1-r2", "ch-s2-r1", "ch-s2-r2"} <= services.keys()
    assert {"worker", "prometheus", "alertmanager", "grafana"} <= services.keys()
    assert services["worker"]["deploy"]["replicas"] >= 2


def test_the_schema_rejects_what_compose_would_reject() -> None:
    """The copied schema is live: an unknown service key, a replica count of the wrong
    type and an unknown top-level section fail validation (a schema that accepted
    anything would pass the test above)."""
    schema = orjson.loads((DEPLOY / "schema" / "compose-spec.json").read_bytes())
    for broken in ({"services": {"w": {"image": "x", "replicas_typo": 2}}},
                   {"services": {"w": {"image": "x", "deploy": {"replicas": [1]}}}},
                   {"servicez": {}}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, schema)


def _mounts(doc: dict[str, Any]) -> list[tuple[str, str]]:
    """(service, host path) of every bind mount and build context in the compose file."""
    out = []
    for name, svc in doc["services"].items():
        for v in svc.get("volumes", []):
            src = v.split(":")[0] if isinstance(v, str) else v.get("source", "")
            if src.startswith((".", "/")):
                out.append((name, src))
        build = svc.get("build")
        if build:
            ctx = build if isinstance(build, str) else build.get("context", ".")
            out.append((name, ctx))
            if isinstance(build, dict) and "dockerfile" in build:
                out.append((name, str(Path(ctx) / build["dockerfile"])))
    return out


def test_every_file_compose_mounts_or_builds_from_exists() -> None:
    """Each bind mount's host path (relative to deploy/), the build context and its
    Dockerfile exist, so `docker compose up` finds every file it is told to read; the
    mounted rule and provisioning folders are not empty."""
    mounts = _mounts(_compose())
    assert len(mounts) >= 12
    missing = [(svc, src) for svc, src in mounts if not (DEPLOY / src).exists()]
    assert not missing
    # The rules generated from the catalog (issue 11), Grafana's provisioning and the
    # generated dashboards (issue 12): mounted folders that must hold what they promise.
    assert list((DEPLOY / "prometheus" / "rules").glob("*.yml"))
    assert {p.name for p in (DEPLOY / "grafana" / "provisioning").iterdir()} >= {
        "datasources", "dashboards"}
    assert list((REPO / "dashboards" / "json").glob("*.json"))


def _dockerfile_instructions() -> list[tuple[str, str]]:
    text = (DEPLOY / "Dockerfile").read_text("utf-8")
    joined = re.sub(r"\\\n\s*", " ", "\n".join(
        line for line in text.splitlines() if not line.lstrip().startswith("#")))
    return [(m.group(1).upper(), m.group(2).strip()) for line in joined.splitlines()
            if (m := re.match(r"\s*([A-Za-z]+)\s+(.*)", line))]


def test_every_path_the_dockerfile_copies_exists() -> None:
    """Every COPY source exists in the build context (the repository root), every package
    pyproject.toml installs is copied (so the install finds it), and so is every package
    with package data (the catalog YAML, the dashboard HTML)."""
    copies = [args.split()[:-1] for kind, args in _dockerfile_instructions() if kind == "COPY"]
    sources = {s.rstrip("/") for srcs in copies for s in srcs if not s.startswith("--")}
    assert sources and all((REPO / s).exists() for s in sources)
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))
    setuptools = pyproject["tool"]["setuptools"]
    packages = {p.rstrip("*") for p in setuptools["packages"]["find"]["include"]}
    assert packages and packages <= sources
    assert set(setuptools["package-data"]) <= sources
    assert {"pyproject.toml", pyproject["project"]["readme"]} <= sources


def _make_vars(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for m in re.finditer(r"^([A-Z]+)\s*[?:]?=\s*(.*)$", text, re.M):
        out[m.group(1)] = m.group(2).strip()
    return out


def _expand(s: str, env: dict[str, str]) -> str:
    for _ in range(5):
        s = re.sub(r"\$\((\w+)\)", lambda m: env.get(m.group(1), m.group(0)), s)
    return s


def _install_recipe() -> list[list[str]]:
    """The Makefile's `install` steps (the recipe of $(STAMP), which `install` depends
    on), variables expanded, split into words; the stamp's `touch` excluded."""
    text = (REPO / "Makefile").read_text("utf-8")
    env = _make_vars(text)
    recipe = text.split("\n$(STAMP):", 1)[1].split("\n\n", 1)[0].splitlines()[1:]
    cmds = [shlex.split(_expand(line.strip(), env)) for line in recipe if line.startswith("\t")]
    return [c for c in cmds if c[0] != "touch"]


def test_the_dockerfile_installs_with_the_commands_ci_runs() -> None:
    """.ci/run calls `make install`; the Dockerfile's RUN that installs the package runs
    exactly the Makefile's install recipe, in order (so the image holds what CI tested)."""
    assert "make install" in (REPO / ".ci" / "run").read_text("utf-8")
    assert "install: $(STAMP)" in (REPO / "Makefile").read_text("utf-8")
    make_steps = _install_recipe()
    assert any("pip" in c[0] and "install" in c for c in make_steps)
    runs = [[shlex.split(part) for part in args.split("&&")]
            for kind, args in _dockerfile_instructions() if kind == "RUN"]
    assert make_steps in runs


def _k8s_docs() -> list[dict[str, Any]]:
    docs = []
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text("utf-8")) if d]
    return docs


def _by_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def test_kubernetes_manifests_parse_and_have_their_required_keys() -> None:
    """Every document has apiVersion, kind and metadata.name; namespaced ones are in
    the courierwatch namespace; the kustomization lists every manifest but the example
    Secret."""
    docs = _k8s_docs()
    assert docs
    for d in docs:
        assert {"apiVersion", "kind"} <= d.keys(), d
        if d["kind"] != "Kustomization":
            assert d["metadata"]["name"], d
        if d["kind"] not in ("Namespace", "Kustomization"):
            assert d["metadata"]["namespace"] == "courierwatch", d["metadata"]["name"]
    kustomization = _by_kind(docs, "Kustomization")[0]
    files = {p.name for p in (DEPLOY / "k8s").glob("*.yaml")}
    assert set(kustomization["resources"]) == files - {"kustomization.yaml",
                                                      "secret.example.yaml"}


def test_the_worker_manifests_agree_with_each_other_and_the_operators_resources() -> None:
    """The Service selects the Deployment's pods on its named port; the Deployment reads
    the ConfigMap and the Secret keys that exist; the ConfigMap names the ClickHouse
    cluster the Altinity resource defines (2 shards x 2 replicas), and as many scan
    partitions as the Strimzi topic has, no fewer than the workers."""
    docs = _k8s_docs()
    deploy = _by_kind(docs, "Deployment")[0]
    service = _by_kind(docs, "Service")[0]
    config = _by_kind(docs, "ConfigMap")[0]
    secret = _by_kind(docs, "Secret")[0]
    pod = deploy["spec"]["template"]
    assert deploy["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    container = pod["spec"]["containers"][0]
    port_names = {p["name"] for p in container["ports"]}
    assert {p["targetPort"] for p in service["spec"]["ports"]} <= port_names
    assert container["envFrom"][0]["configMapRef"]["name"] == config["metadata"]["name"]
    for env in container["env"]:
        ref = env["valueFrom"]["secretKeyRef"]
        assert ref["name"] == secret["metadata"]["name"] and ref["key"] in secret["stringData"]
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True

    chi = _by_kind(docs, "ClickHouseInstallation")[0]
    cluster = chi["spec"]["configuration"]["clusters"][0]
    assert config["data"]["COURIERWATCH_CLICKHOUSE_CLUSTER"] == cluster["name"]
    assert cluster["layout"] == {"shardsCount": 2, "replicasCount": 2}
    keeper = _by_kind(docs, "ClickHouseKeeperInstallation")[0]
    assert keeper["spec"]["configuration"]["clusters"][0]["layout"]["replicasCount"] == 3
    topics = {t["metadata"]["name"]: t["spec"] for t in _by_kind(docs, "KafkaTopic")}
    partitions = int(config["data"]["COURIERWATCH_PARTITIONS"])
    assert topics["scan.v1"]["partitions"] == partitions >= deploy["spec"]["replicas"]
    pools = _by_kind(docs, "KafkaNodePool")
    assert sum(p["spec"]["replicas"] for p in pools) == 3


def test_compose_workers_fit_the_partitions_and_reach_the_cluster() -> None:
    """The compose workers are no more than the scan partitions the init job creates,
    bind the API beyond loopback inside the container, and name the ClickHouse cluster
    that deploy/clickhouse/config.d/cluster.xml defines."""
    doc = _compose()
    worker = doc["services"]["worker"]
    env = worker["environment"]
    partitions = int(re.search(r":-(\d+)", env["COURIERWATCH_PARTITIONS"]).group(1))  # type: ignore[union-attr]
    assert worker["deploy"]["replicas"] <= partitions
    init = " ".join(doc["services"]["kafka-init"]["command"])
    assert f"scan.v1:${{COURIERWATCH_PARTITIONS:-{partitions}}}" in init
    assert env["COURIERWATCH_API_HOST"] == "0.0.0.0"
    # KRaft formats its storage with CLUSTER_ID: a base64url UUID (16 bytes, 22 characters)
    kafka = doc["services"]["kafka-1"]["environment"]
    assert len(base64.urlsafe_b64decode(kafka["CLUSTER_ID"] + "==")) == 16
    assert kafka["KAFKA_CONTROLLER_QUORUM_VOTERS"].count("@kafka-") == 3
    cluster_xml = (DEPLOY / "clickhouse" / "config.d" / "cluster.xml").read_text("utf-8")
    assert f"<{env['COURIERWATCH_CLICKHOUSE_CLUSTER']}>" in cluster_xml
    shards = re.findall(r"<shard>(.*?)</shard>", cluster_xml, re.S)
    assert [len(re.findall(r"<replica>", s)) for s in shards] == [2, 2]


def _token_step(command: str | list[str]) -> argparse.Namespace | None:
    """The `courierwatch tokens ensure` step of a container's `sh -c` command line, parsed
    by the CLI's own parser, if it runs before the worker (`services.worker`); else None."""
    script = command[-1] if isinstance(command, list) else command
    steps = [shlex.split(part) for part in script.split("&&")]
    for i, words in enumerate(steps):
        if words[:1] and words[0].endswith("/courierwatch") and words[1:3] == ["tokens", "ensure"]:
            later = [w for step in steps[i + 1:] for w in step]
            if "services.worker" in later:
                return build_parser().parse_args(words[1:])
    return None


def _image_env(name: str) -> str:
    env = [kv for kind, args in _dockerfile_instructions() if kind == "ENV"
           for kv in shlex.split(args)]
    return dict(kv.split("=", 1) for kv in env)[name]


def _compose_workers_without_token_step(doc: dict[str, Any]) -> list[str]:
    """Services running the courierwatch image whose API binds beyond loopback without a
    national `tokens ensure` step from a required variable of their environment."""
    bad = []
    for name, svc in doc["services"].items():
        build = svc.get("build") or {}
        if not (str(svc.get("image", "")).startswith("courierwatch")
                or (isinstance(build, dict) and build.get("dockerfile") == "deploy/Dockerfile")):
            continue
        env = svc.get("environment", {})
        if is_loopback(env.get("COURIERWATCH_API_HOST", _image_env("COURIERWATCH_API_HOST"))):
            continue
        step = _token_step(svc.get("command", ""))
        if (step is None or step.scope != "national"
                or not str(env.get(step.from_env, "")).startswith(f"${{{step.from_env}:?")):
            bad.append(name)
    return bad


def _healthcheck_token_env() -> str:
    spec = importlib.util.spec_from_file_location("healthcheck", DEPLOY / "healthcheck.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return str(module.TOKEN_ENV)


def test_compose_workers_beyond_loopback_store_the_ops_token_that_prometheus_sends() -> None:
    """A worker listening beyond loopback refuses to start without an API token (issue 14):
    every compose worker stores the hash of a required national token before it starts;
    Prometheus scrapes the workers with the same token (a compose secret from the same
    variable) and the health check sends it. Without the step, the check names the worker."""
    doc = _compose()
    assert not _compose_workers_without_token_step(doc)
    worker = doc["services"]["worker"]
    var = _token_step(worker["command"]).from_env  # type: ignore[union-attr]
    assert _healthcheck_token_env() == var
    prom = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text("utf-8"))
    job = next(j for j in prom["scrape_configs"] if j["job_name"] == "courierwatch-worker")
    path = Path(job["authorization"]["credentials_file"])
    assert path.parent == Path("/run/secrets") and path.name in doc["services"]["prometheus"][
        "secrets"]
    assert doc["secrets"][path.name] == {"environment": var}
    broken = {**doc, "services": {**doc["services"], "worker": {
        k: v for k, v in worker.items() if k != "command"}}}
    assert _compose_workers_without_token_step(broken) == ["worker"]


def test_every_variable_compose_reads_is_documented_at_its_top() -> None:
    """The ${VAR} interpolations and the secrets read from the environment are exactly the
    variables the header's list ("Secrets come from ...", up to the next blank comment
    line) names: no undocumented secret, no stale one."""
    text = COMPOSE.read_text("utf-8")
    header, body = text.split("\nname:", 1)
    listing = header.split("# Secrets come from", 1)[1].split("\n#\n", 1)[0]
    documented = set(re.findall(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b", listing))
    used = set(re.findall(r"(?<!\$)\$\{([A-Z][A-Z0-9_]*)", body))
    used |= {s["environment"] for s in _compose().get("secrets", {}).values()
             if "environment" in s}
    assert used and documented == used


def test_the_kubernetes_workers_store_the_ops_token_the_service_monitor_sends() -> None:
    """As in compose: the Deployment's command stores a national token from a Secret-backed
    variable before the worker listens on the ConfigMap's non-loopback address, and the
    ServiceMonitor scrapes with that Secret key."""
    docs = _k8s_docs()
    config = _by_kind(docs, "ConfigMap")[0]
    assert not is_loopback(config["data"]["COURIERWATCH_API_HOST"])
    container = _by_kind(docs, "Deployment")[0]["spec"]["template"]["spec"]["containers"][0]
    step = _token_step(container["args"])
    assert step is not None and step.scope == "national"
    env = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"]}
    assert step.from_env == _healthcheck_token_env()
    monitor = _by_kind(docs, "ServiceMonitor")[0]
    for endpoint in monitor["spec"]["endpoints"]:
        assert endpoint["authorization"]["credentials"] == env[step.from_env]
