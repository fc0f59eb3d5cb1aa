"""deploy/: the compose file, the Dockerfile and the Kubernetes manifests, checked without a
Docker engine or a cluster (none runs on the project's machines).

- compose.yaml validates against the Compose Specification's JSON schema (copied into
  deploy/schema/ from the compose-spec repository, Apache-2.0), and every file or folder it
  mounts or builds from exists;
- every path the Dockerfile COPYs exists, and its install steps are the Makefile's
  `install` recipe (which .ci/run runs), command for command;
- every Kubernetes manifest parses, has the keys its kind requires, and the workers'
  Deployment, Service, ConfigMap and the operators' resources agree with each other.
"""

from __future__ import annotations

import base64
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest
import yaml

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
