"""The deployment files in infra/ are checked, not just written: YAML syntax and lint, the Kubernetes schemas,
the properties every workload must have, the compose file's structure, and configuration parity with the
settings classes and with `salesai up`. Offline and fast: no cluster, no registry, no image build."""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
K8S = INFRA / "k8s"
COMPOSE = INFRA / "compose.yaml"
README = INFRA / "README.md"

YAML_FILES = sorted(p for p in INFRA.rglob("*") if p.suffix in {".yaml", ".yml"} and p.is_file())
K8S_FILES = sorted(K8S.rglob("*.yaml"))

#: kubernetes-validate ships the schemas of the core API only; custom resources are skipped explicitly.
CRD_KINDS = {("monitoring.coreos.com/v1", "ServiceMonitor")}
#: kustomize's own files are configuration for the tool, not API objects.
TOOL_KINDS = {("kustomize.config.k8s.io/v1beta1", "Kustomization")}
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job"}
SERVING_KINDS = {"Deployment", "StatefulSet", "DaemonSet"}
SECRET_KEYS = {"SALESAI_MASTER_KEY", "SALESAI_API_KEY_PEPPER", "SALESAI_DATABASE_URL"}
#: the app services of the suite and their gRPC ports (None: HTTP)
APP_SERVICES = {"ingestion": 50051, "inference": 50052, "training": 50053, "leads": 50054, "gateway": None}
YAMLLINT_CONFIG = """
extends: relaxed
rules:
  line-length: {max: 140, level: error}
"""


@functools.cache
def load_all(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc is not None]


def k8s_objects() -> list[tuple[Path, dict[str, Any]]]:
    return [
        (path, doc)
        for path in K8S_FILES
        for doc in load_all(path)
        if (doc["apiVersion"], doc["kind"]) not in TOOL_KINDS
    ]


def of_kind(*kinds: str) -> list[tuple[Path, dict[str, Any]]]:
    return [(path, doc) for path, doc in k8s_objects() if doc["kind"] in kinds]


def pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    return obj["spec"]["template"]["spec"]


def containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    spec = pod_spec(obj)
    return [*spec.get("initContainers", []), *spec["containers"]]


def obj_id(item: tuple[Path, dict[str, Any]]) -> str:
    path, doc = item
    name = doc["metadata"].get("name") or doc["metadata"].get("generateName")
    return f"{path.relative_to(INFRA)}:{doc['kind']}/{name}"


def configmap_data() -> dict[str, str]:
    maps = [doc for _, doc in of_kind("ConfigMap") if doc["metadata"]["name"] == "salesai-config"]
    assert len(maps) == 1
    return maps[0]["data"]


def container_env(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every variable a container gets: its envFrom ConfigMap keys, then its own env entries (which win)."""
    env: dict[str, dict[str, Any]] = {}
    for source in container.get("envFrom", []):
        assert source["configMapRef"]["name"] == "salesai-config", "only the salesai-config ConfigMap is used"
        env.update({k: {"name": k, "value": v} for k, v in configmap_data().items()})
    env.update({e["name"]: e for e in container.get("env", [])})
    return env


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


# ----------------------------------------------------------------------------------------------- settings


def settings_env_vars() -> set[str]:
    """The variable of every field of every settings class: the shared alias (SALESAI_<NAME>) when the field has
    one, else the class's env_prefix + the field name, upper-cased. The nested settings class
    (InferenceSettings.models) reads its own prefix and is covered by ModelSettings; a nested plain model
    (IngestionSettings.redaction) is readable as one JSON variable or field by field with the `__` delimiter."""
    from pydantic import AliasChoices, BaseModel
    from pydantic_settings import BaseSettings

    from gateway.config import GatewaySettings
    from models.config import ModelSettings
    from services.common.settings import CommonSettings, GrpcServiceSettings
    from services.inference.config import InferenceSettings
    from services.ingestion.config import IngestionSettings
    from services.leads.config import LeadsSettings
    from services.training.config import TrainingSettings

    # GrpcServiceSettings is only a base class (its own prefix, SALESAI_, is read by no process): its fields are
    # checked under each service's prefix, where every concrete subclass has them.
    services = (IngestionSettings, InferenceSettings, TrainingSettings, LeadsSettings)
    for cls in services:
        assert set(GrpcServiceSettings.model_fields) <= set(cls.model_fields)

    names: set[str] = set()
    for cls in (CommonSettings, *services, ModelSettings, GatewaySettings):
        prefix = cls.model_config.get("env_prefix", "")
        for name, field in cls.model_fields.items():
            annotation = field.annotation
            if name == "models" or (isinstance(annotation, type) and issubclass(annotation, BaseSettings)):
                continue
            alias = field.validation_alias
            var = (alias.choices[0] if isinstance(alias, AliasChoices) else f"{prefix}{name}").upper()
            names.add(var)
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                delimiter = cls.model_config.get("env_nested_delimiter") or "__"
                names.update(f"{var}{delimiter}{sub.upper()}" for sub in annotation.model_fields)
    return names


@pytest.fixture(scope="module")
def known_settings() -> set[str]:
    return settings_env_vars()


def test_every_setting_is_documented_in_the_infra_readme(known_settings: set[str]) -> None:
    text = README.read_text(encoding="utf-8")
    missing = sorted(var for var in known_settings if not re.search(rf"\b{re.escape(var)}\b", text))
    assert not missing, f"document these in infra/README.md (python infra/settings_table.py --write): {missing}"


def test_every_salesai_key_in_infra_is_a_real_setting(known_settings: set[str]) -> None:
    """A misspelt key is silently ignored by pydantic-settings: catch it here."""
    used: set[str] = set(configmap_data())
    for _, obj in of_kind(*WORKLOAD_KINDS):
        for container in containers(obj):
            used |= {e["name"] for e in container.get("env", [])}
    for service in compose()["services"].values():
        used |= set(service.get("environment") or {})
    for dockerfile in (INFRA / "docker").glob("*.Dockerfile"):
        used |= set(re.findall(r"\b(SALESAI_[A-Z0-9_]+)=", dockerfile.read_text(encoding="utf-8")))
    unknown = sorted(k for k in used if k.startswith("SALESAI_") and k not in known_settings)
    assert not unknown, f"not read by any settings class: {unknown}"


def test_readme_has_the_operations_sections() -> None:
    text = README.read_text(encoding="utf-8")
    for heading in (
        "## Sizing",
        "## Upgrade with migrations",
        "## Key rotation",
        "## Backup and restore",
        "## Secrets",
    ):
        assert heading in text
    assert "SIZING FIGURES" in text
    for figure in ("35 messages/s", "p50 ≈ 30 ms", "550 messages/s"):
        assert figure in text
    for needle in ("pg_dump", "pg_restore", "snapshots", "salesai db upgrade", "kubectl -n salesai create secret"):
        assert needle in text


# -------------------------------------------------------------------------------------------- YAML files


def test_the_infra_folder_has_the_expected_files() -> None:
    names = {p.relative_to(INFRA).as_posix() for p in YAML_FILES}
    assert {"compose.yaml", "prometheus.yml", "k8s/base/kustomization.yaml", "k8s/jobs/migrate.yaml"} <= names
    assert len(K8S_FILES) >= 10


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: p.relative_to(INFRA).as_posix())
def test_yaml_parses_and_passes_yamllint(path: Path) -> None:
    from yamllint import linter
    from yamllint.config import YamlLintConfig

    text = path.read_text(encoding="utf-8")
    assert load_all(path), "empty YAML file"
    problems = list(linter.run(text, YamlLintConfig(YAMLLINT_CONFIG), str(path)))
    assert not problems, "\n".join(f"{path}:{p.line}:{p.column} {p.level} {p.desc} ({p.rule})" for p in problems)


# ------------------------------------------------------------------------------------- Kubernetes schemas


def _schema_version() -> str:
    from kubernetes_validate import utils

    return utils.latest_version()


@pytest.mark.parametrize("item", k8s_objects(), ids=obj_id)
def test_kubernetes_object_validates_against_the_schema(item: tuple[Path, dict[str, Any]]) -> None:
    import kubernetes_validate
    from kubernetes_validate import utils

    _, doc = item
    if (doc["apiVersion"], doc["kind"]) in CRD_KINDS:
        pytest.skip(f"{doc['kind']} is a custom resource: kubernetes-validate ships no schema for it")
    try:
        kubernetes_validate.validate(doc, _schema_version(), strict=True)
    except utils.ValidationError as err:
        pytest.fail(f"{obj_id(item)}: {err.message} at {list(err.path)}")


def test_the_crd_objects_are_the_known_ones_and_well_formed() -> None:
    crds = [doc for _, doc in k8s_objects() if (doc["apiVersion"], doc["kind"]) in CRD_KINDS]
    assert crds, "a ServiceMonitor scrapes the services"
    for doc in crds:
        assert doc["metadata"]["namespace"] == "salesai"
        assert doc["spec"]["selector"] and doc["spec"]["endpoints"]
        assert all(e["port"] in {"metrics", "http"} and e["path"] == "/metrics" for e in doc["spec"]["endpoints"])


def test_every_object_is_in_the_salesai_namespace() -> None:
    for item in k8s_objects():
        _, doc = item
        if doc["kind"] != "Namespace":
            assert doc["metadata"].get("namespace") == "salesai", obj_id(item)


@pytest.mark.parametrize("folder", ["base", "gpu"])
def test_kustomization_lists_every_manifest_of_its_folder(folder: str) -> None:
    directory = K8S / folder
    listed = set(load_all(directory / "kustomization.yaml")[0]["resources"])
    present = {p.name for p in directory.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == present


# ------------------------------------------------------------------------------------------- workloads


@pytest.mark.parametrize("item", of_kind(*WORKLOAD_KINDS), ids=obj_id)
def test_workload_has_resources_and_a_non_root_security_context(item: tuple[Path, dict[str, Any]]) -> None:
    _, obj = item
    spec = pod_spec(obj)
    pod_security = spec.get("securityContext", {})
    for container in containers(obj):
        security = container.get("securityContext", {})
        assert security.get("runAsNonRoot", pod_security.get("runAsNonRoot")) is True, container["name"]
        assert security.get("allowPrivilegeEscalation") is False, container["name"]
        assert "ALL" in security.get("capabilities", {}).get("drop", []), container["name"]
        resources = container.get("resources", {})
        for section in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(resources.get(section, {})), f"{container['name']}: {section}"
    assert pod_security.get("seccompProfile", {}).get("type") == "RuntimeDefault"
    assert spec.get("automountServiceAccountToken") is False


@pytest.mark.parametrize("item", of_kind(*SERVING_KINDS), ids=obj_id)
def test_serving_workload_has_readiness_and_liveness_probes(item: tuple[Path, dict[str, Any]]) -> None:
    _, obj = item
    for container in pod_spec(obj)["containers"]:
        assert "readinessProbe" in container and "livenessProbe" in container, container["name"]


@pytest.mark.parametrize("item", of_kind("Deployment"), ids=obj_id)
def test_deployment_of_an_app_service_probes_its_health_endpoint(item: tuple[Path, dict[str, Any]]) -> None:
    _, obj = item
    name = obj["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"]
    assert name in APP_SERVICES
    (container,) = pod_spec(obj)["containers"]
    probes = [container[p] for p in ("startupProbe", "readinessProbe", "livenessProbe")]
    port = APP_SERVICES[name]
    if port is not None:  # a gRPC service: Kubernetes' native grpc.health.v1 probe on its port
        assert all(p["grpc"]["port"] == port for p in probes)
        assert str(port) == container_env(container)[f"SALESAI_{name.upper()}_PORT"]["value"]
    else:
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert obj["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > 10, "longer than the drain grace"


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    match = selector.get("matchLabels", selector)
    return all(labels.get(k) == v for k, v in match.items() if isinstance(v, str))


@pytest.mark.parametrize("item", of_kind("Deployment"), ids=obj_id)
def test_deployment_has_an_hpa_a_pdb_and_a_service(item: tuple[Path, dict[str, Any]]) -> None:
    _, obj = item
    name, labels = obj["metadata"]["name"], obj["spec"]["template"]["metadata"]["labels"]
    assert _selects(obj["spec"]["selector"], labels)
    hpas = [d for _, d in of_kind("HorizontalPodAutoscaler") if d["spec"]["scaleTargetRef"]["name"] == name]
    assert len(hpas) == 1 and hpas[0]["apiVersion"] == "autoscaling/v2"
    assert hpas[0]["spec"]["scaleTargetRef"]["kind"] == "Deployment"
    assert 1 <= hpas[0]["spec"]["minReplicas"] <= hpas[0]["spec"]["maxReplicas"]
    pdbs = [d for _, d in of_kind("PodDisruptionBudget") if _selects(d["spec"]["selector"], labels)]
    assert len(pdbs) == 1, "exactly one PodDisruptionBudget covers the pods"
    services = [d for _, d in of_kind("Service") if _selects(d["spec"]["selector"], labels)]
    assert services, "a Service routes to the pods"


def _gpu_scheduled(obj: dict[str, Any]) -> bool:
    spec = pod_spec(obj)
    tolerates = any(t.get("key") == "nvidia.com/gpu" for t in spec.get("tolerations", []))
    selects = any(k.startswith("nvidia.com/") for k in spec.get("nodeSelector", {}))
    asks = all(c["resources"]["limits"].get("nvidia.com/gpu") for c in spec["containers"])
    return tolerates and selects and asks


def test_inference_and_training_have_gpu_scheduling() -> None:
    gpu = {
        obj["metadata"].get("name") or obj["metadata"]["generateName"]
        for _, obj in of_kind(*WORKLOAD_KINDS)
        if _gpu_scheduled(obj)
    }
    assert "inference-gpu" in gpu
    assert "salesai-train-" in gpu
    for _, obj in of_kind(*WORKLOAD_KINDS):
        if _gpu_scheduled(obj):
            (container,) = pod_spec(obj)["containers"]
            assert container["image"].endswith("-cuda")
            assert container_env(container)["SALESAI_MODELS_DEVICE"]["value"] == "cuda"


def test_migrations_job_runs_salesai_db_upgrade() -> None:
    jobs = [obj for _, obj in of_kind("Job") if obj["metadata"].get("name") == "salesai-migrate"]
    assert len(jobs) == 1
    (container,) = pod_spec(jobs[0])["containers"]
    assert container["command"] == ["salesai", "db", "upgrade"]
    assert container_env(container)["SALESAI_DATABASE_URL"]["valueFrom"]["secretKeyRef"]["name"] == "salesai-secrets"


# ---------------------------------------------------------------------------------------------- secrets


def test_no_secret_manifest_carries_data() -> None:
    for item in of_kind("Secret"):
        _, doc = item
        assert not doc.get("data") and not doc.get("stringData"), f"{obj_id(item)} holds literal secret values"


def test_secrets_come_from_the_secret_never_from_literals() -> None:
    assert not SECRET_KEYS & set(configmap_data())
    for item in of_kind(*WORKLOAD_KINDS):
        _, obj = item
        for container in containers(obj):
            for key, entry in container_env(container).items():
                if key in SECRET_KEYS:
                    assert "value" not in entry, f"{obj_id(item)}: {key} is a literal"
                    assert entry["valueFrom"]["secretKeyRef"]["name"] == "salesai-secrets"


def test_app_services_get_both_secrets() -> None:
    for _, obj in of_kind("Deployment"):
        for container in pod_spec(obj)["containers"]:
            assert set(container_env(container)) >= SECRET_KEYS, obj["metadata"]["name"]


# --------------------------------------------------------------------------------------- configuration parity


def _supervisor_env() -> dict[str, set[str]]:
    """The keys `salesai up` sets per process (services/cli/supervisor.py default_specs)."""
    from services.cli.supervisor import default_specs

    ports = {"ingestion": 50051, "inference": 50052, "training": 50053, "leads": 50054, "gateway": 8000}
    return {spec.name: set(spec.env) | set(spec.wire(ports)) for spec in default_specs("127.0.0.1", 8000, 50051, 50052)}


def test_supervisor_keys_are_set_by_compose() -> None:
    services = compose()["services"]
    for name, keys in _supervisor_env().items():
        assert keys <= set(services[name]["environment"]), name


def test_supervisor_keys_are_set_on_kubernetes() -> None:
    by_name = {obj["metadata"]["name"]: obj for _, obj in of_kind("Deployment")}
    for name, keys in _supervisor_env().items():
        (container,) = pod_spec(by_name[name])["containers"]
        assert keys <= set(container_env(container)), name


def test_compose_and_kubernetes_set_the_same_keys_per_service() -> None:
    services = compose()["services"]
    by_name = {obj["metadata"]["name"]: obj for _, obj in of_kind("Deployment")}
    for name in APP_SERVICES:
        (container,) = pod_spec(by_name[name])["containers"]
        prefixes = (
            "SALESAI_DATA",
            "SALESAI_DATABASE",
            "SALESAI_LOG",
            "SALESAI_MASTER",
            "SALESAI_API_KEY",
            f"SALESAI_{name.upper()}_",
        )
        relevant = {k for k in container_env(container) if k.startswith(prefixes)}
        assert relevant <= set(services[name]["environment"]), name


def test_the_gateway_is_wired_to_the_service_ports() -> None:
    env = compose()["services"]["gateway"]["environment"]
    services = compose()["services"]
    assert (
        env["SALESAI_GATEWAY_INGESTION_URL"]
        == f"ingestion:{services['ingestion']['environment']['SALESAI_INGESTION_PORT']}"
    )
    assert (
        env["SALESAI_GATEWAY_INFERENCE_URL"]
        == f"inference:{services['inference']['environment']['SALESAI_INFERENCE_PORT']}"
    )
    data = configmap_data()
    service_ports = {d["metadata"]["name"]: {p["port"] for p in d["spec"]["ports"]} for _, d in of_kind("Service")}
    assert int(data["SALESAI_INGESTION_PORT"]) in service_ports["ingestion"]
    assert int(data["SALESAI_INFERENCE_PORT"]) in service_ports["inference"]


#: every URL a salesai process on Kubernetes dials a gRPC service at, and the service it names
GRPC_URL_KEYS = {
    "SALESAI_GATEWAY_INGESTION_URL": "ingestion",
    "SALESAI_GATEWAY_INFERENCE_URL": "inference",
    "SALESAI_GATEWAY_TRAINING_URL": "training",
    "SALESAI_GATEWAY_LEADS_URL": "leads",
    "SALESAI_TRAINING_INFERENCE_URL": "inference",
}
HEADLESS_URL = re.compile(
    r"^dns:///(?P<name>[a-z0-9-]+)\.(?P<namespace>[a-z0-9-]+)\.svc\.cluster\.local:(?P<port>\d+)$"
)


def test_grpc_urls_on_kubernetes_name_headless_services_of_the_right_pods_and_ports() -> None:
    """round_robin spreads calls only over the addresses a name resolves to: a ClusterIP Service resolves to one
    virtual IP (each client would stay on one pod), a headless Service to every ready pod."""
    data = configmap_data()
    services = {d["metadata"]["name"]: d for _, d in of_kind("Service")}
    pods = {obj["metadata"]["name"]: obj["spec"]["template"]["metadata"]["labels"] for _, obj in of_kind("Deployment")}
    for key, target in GRPC_URL_KEYS.items():
        match = HEADLESS_URL.match(data[key])
        assert match, f"{key}={data[key]!r} is not dns:///<service>.<namespace>.svc.cluster.local:<port>"
        service = services.get(match["name"])
        assert service is not None, f"{key}: no Service {match['name']}"
        assert match["namespace"] == service["metadata"]["namespace"] == "salesai", key
        assert service["spec"].get("clusterIP") == "None", f"{key}: {match['name']} is not headless"
        assert not service["spec"].get("publishNotReadyAddresses"), "only ready (SERVING) pods may be resolved"
        assert _selects(service["spec"]["selector"], pods[target]), f"{match['name']} does not select {target}"
        (port,) = [p for p in service["spec"]["ports"] if p["port"] == int(match["port"])]
        assert port["port"] == int(data[f"SALESAI_{target.upper()}_PORT"]) == APP_SERVICES[target], key
        assert port["targetPort"] == "grpc" and port.get("appProtocol") == "grpc", key


def test_headless_services_leave_metrics_to_the_clusterip_services() -> None:
    """The ServiceMonitor selects both Services of a gRPC service by label; only one may carry the metrics port,
    or Prometheus would scrape every pod twice."""
    for _, service in of_kind("Service"):
        if service["spec"].get("clusterIP") == "None" and service["metadata"]["name"].endswith("-headless"):
            names = {p["name"] for p in service["spec"]["ports"]}
            assert "metrics" not in names, service["metadata"]["name"]


def test_grpc_servers_age_their_connections_out_on_kubernetes_and_compose() -> None:
    """Without a max connection age a client never re-resolves while its connections are healthy, so pods the HPA
    adds get no calls from clients that were already connected."""
    data = configmap_data()
    services = compose()["services"]
    for name, port in APP_SERVICES.items():
        if port is None:
            continue
        key = f"SALESAI_{name.upper()}_MAX_CONNECTION_AGE_SECONDS"
        assert 0 < float(data[key]) <= 3600, key
        assert services[name]["environment"][key] == data[key], key


# ----------------------------------------------------------------------------------------------- compose


def test_compose_has_the_whole_suite_with_health_checks() -> None:
    services = compose()["services"]
    assert {"gateway", "ingestion", "inference", "postgres", "qdrant", "prometheus", "migrate", "training"} <= set(
        services
    )
    for name in ("gateway", "ingestion", "inference", "postgres", "qdrant", "prometheus"):
        test = services[name]["healthcheck"]["test"]
        assert test and test[0] in {"CMD", "CMD-SHELL"}, name
    for name, port in APP_SERVICES.items():
        if port is not None:
            assert f"127.0.0.1:{port}" in services[name]["healthcheck"]["test"]
    assert services["gateway"]["healthcheck"]["test"][-1].endswith("/readyz")
    gateway_deps = services["gateway"]["depends_on"]
    assert gateway_deps["ingestion"]["condition"] == gateway_deps["inference"]["condition"] == "service_healthy"
    for name in APP_SERVICES:
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["command"] == ["salesai", "db", "upgrade"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["training"]["entrypoint"] == ["python", "-m", "services.training"]  # the job service


def test_compose_app_services_run_non_root_from_the_infra_dockerfiles() -> None:
    services = compose()["services"]
    for name in (*APP_SERVICES, "migrate", "training"):
        service = services[name]
        assert service["user"] == "10001:10001"
        dockerfile = (COMPOSE.parent / service["build"]["context"] / service["build"]["dockerfile"]).resolve()
        assert dockerfile.is_file(), dockerfile


def test_compose_secrets_are_interpolated_never_literal() -> None:
    for name, service in compose()["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if key in SECRET_KEYS | {"POSTGRES_PASSWORD"}:
                assert re.search(r"\$\{[A-Z_]+:\?", str(value)), f"{name}: {key} must come from the environment"
    assert "SALESAI_DATABASE_URL" in compose()["services"]["gateway"]["environment"]
    assert "postgres:5432" in compose()["services"]["gateway"]["environment"]["SALESAI_DATABASE_URL"]
    example = (INFRA / ".env.example").read_text(encoding="utf-8")
    assert re.findall(r"^(?:SALESAI_MASTER_KEY|SALESAI_API_KEY_PEPPER|POSTGRES_PASSWORD)=$", example, re.M)


def test_prometheus_scrapes_every_app_service() -> None:
    config = yaml.safe_load((INFRA / "prometheus.yml").read_text(encoding="utf-8"))
    targets = {t for job in config["scrape_configs"] for sc in job.get("static_configs", []) for t in sc["targets"]}
    services = compose()["services"]
    assert f"gateway:{services['gateway']['environment']['SALESAI_GATEWAY_PORT']}" in targets
    for name in ("ingestion", "inference"):
        assert f"{name}:{services[name]['environment'][f'SALESAI_{name.upper()}_METRICS_PORT']}" in targets
    mounts = services["prometheus"]["volumes"]
    assert any(m.startswith("./prometheus.yml:") for m in mounts)


def _docker_compose_available() -> bool:
    if not shutil.which("docker"):
        return False
    return subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=20).returncode == 0


@pytest.mark.skipif(not _docker_compose_available(), reason="docker compose is not installed")
def test_docker_compose_config_accepts_the_file() -> None:
    env = {
        "PATH": "/usr/bin:/bin:/usr/local/bin",
        "SALESAI_MASTER_KEY": "x",
        "SALESAI_API_KEY_PEPPER": "x",
        "POSTGRES_PASSWORD": "x",
    }
    for files in (["-f", str(COMPOSE)], ["-f", str(COMPOSE), "-f", str(INFRA / "compose.gpu.yaml")]):
        result = subprocess.run(
            ["docker", "compose", *files, "config", "--quiet"], capture_output=True, text=True, env=env, timeout=60
        )
        assert result.returncode == 0, result.stderr


# ------------------------------------------------------------------------------------------- Dockerfiles

DEPLOYABLES = {
    "gateway": ["python", "-m", "gateway"],
    "ingestion": ["python", "-m", "services.ingestion"],
    "inference": ["python", "-m", "services.inference"],
    "training": ["salesai"],
}


@pytest.mark.parametrize("name", sorted(DEPLOYABLES))
def test_dockerfile_is_multi_stage_non_root_with_a_health_check(name: str) -> None:
    path = INFRA / "docker" / f"{name}.Dockerfile"
    text = re.sub(r"\\\n", " ", path.read_text(encoding="utf-8"))
    instructions = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    stages = [line for line in instructions if line.startswith("FROM ")]
    assert len(stages) >= 2, "multi-stage"
    users = [line.split()[1] for line in instructions if line.startswith("USER ")]
    assert users and users[-1].split(":")[0].isdigit() and users[-1].split(":")[0] != "0", "numeric non-root USER"
    assert any(line.startswith("HEALTHCHECK ") for line in instructions)
    entry = [line for line in instructions if line.startswith(("CMD [", "ENTRYPOINT ["))]
    first = json.loads(entry[0].split(" ", 1)[1])
    assert first == DEPLOYABLES[name]
    assert "proto/generate.py" in text, "protobuf code is generated at build time"
    for line in instructions:
        if line.startswith("COPY ") and "--from=" not in line:
            for source in line.split()[1:-1]:
                if not source.startswith("--"):
                    assert source == "." or (ROOT / source).exists(), f"COPY source {source} is missing"
    assert (path.parent / f"{name}.Dockerfile.dockerignore").is_file()
    if name in {"inference", "training"}:
        assert "python -m models.base_encoder" in text, "the base model is built in a documented stage"
        assert "ARG TORCH_INDEX_URL" in text, "CPU and CUDA variants"


def _stages(text: str) -> dict[str, str]:
    """Dockerfile text by stage name (continuation lines joined)."""
    text = re.sub(r"\\\n", " ", text)
    parts = re.split(r"^FROM\s+\S+\s+AS\s+(\S+)\s*$", text, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


@pytest.mark.parametrize("name", sorted([*DEPLOYABLES, "leads"]))
def test_dockerfile_keeps_what_the_first_real_build_needed(name: str) -> None:
    """Found by building and running the images (infra/docker/build_local.sh); see infra/docker/README.md."""
    stages = _stages((INFRA / "docker" / f"{name}.Dockerfile").read_text(encoding="utf-8"))
    assert "libgomp1" in stages["runtime"], "LightGBM needs the system OpenMP runtime (slim images lack it)"
    assert "ARG TORCH_FIND_LINKS=" in stages["deps"], "torch from a local wheel folder or mirror, default empty"
    assert "COPY pyproject.toml ./" in stages["deps"] and "COPY . ." not in stages["deps"], "deps keyed on pyproject"
    assert "COPY --from=deps /opt/venv /opt/venv" in stages["runtime"]
    assert re.search(r"pip install .*--no-deps .*-e /app", stages["runtime"]), "editable install in the runtime"
    if "base-model" in stages:
        assert "chmod -R a+rX /app/build/models" in stages["base-model"], "safetensors writes the weights 0600"
        runtime = stages["runtime"]
        assert runtime.index("--from=base-model") < runtime.index("--from=builder"), "model layer before the source"


@pytest.mark.parametrize("name", sorted([*DEPLOYABLES, "leads"]))
def test_dockerfile_keeps_what_the_cuda_build_needed(name: str) -> None:
    """Found by building the CUDA variants (build_local.sh cuda); see infra/docker/README.md."""
    deps = _stages((INFRA / "docker" / f"{name}.Dockerfile").read_text(encoding="utf-8"))["deps"]
    assert "ARG TORCH_FIND_LINKS_ONLY=" in deps, "torch's NVIDIA wheels from the find-links location, default empty"
    assert re.search(r'pip install --no-index --find-links "\$\{TORCH_FIND_LINKS\}" "torch==\$\{TORCH_VERSION\}"', deps)
    # the requirements step: pyproject.toml's torch pin replaced by TORCH_VERSION, every other dependency kept
    code = re.search(r'RUN TORCH_VERSION="\$\{TORCH_VERSION\}" python -c "([^"]+)"', deps)
    assert code, "the torch pin of pyproject.toml must not undo TORCH_VERSION"
    result = subprocess.run(
        [sys.executable, "-c", code.group(1)],
        cwd=ROOT,
        env={**os.environ, "TORCH_VERSION": "9.9.9"},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    lines = result.stdout.splitlines()
    torch_lines = [line for line in lines if re.split(r"[^A-Za-z0-9._-]", line, maxsplit=1)[0].lower() == "torch"]
    assert torch_lines == ["torch==9.9.9"]
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    assert len(lines) == len(declared)


@pytest.mark.parametrize("name", sorted([*DEPLOYABLES, "leads"]))
def test_build_context_leaves_out_infra_but_the_health_check(name: str) -> None:
    lines = (INFRA / "docker" / f"{name}.Dockerfile.dockerignore").read_text(encoding="utf-8").splitlines()
    assert "infra" in lines and "!infra/docker/healthcheck.py" in lines
    assert lines.index("infra") < lines.index("!infra/docker/healthcheck.py"), "the exception must follow"


def test_build_local_script_parses() -> None:
    script = INFRA / "docker" / "build_local.sh"
    assert script.stat().st_mode & 0o111, "executable"
    result = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr


# ------------------------------------------------------------------------------------------------ kustomize


def _kubectl_kustomize(folder: Path) -> subprocess.CompletedProcess[str]:
    kubectl = shutil.which("kubectl")
    assert kubectl
    return subprocess.run([kubectl, "kustomize", str(folder)], capture_output=True, text=True, timeout=60)


@pytest.mark.skipif(not shutil.which("kubectl"), reason="kubectl is not installed")
@pytest.mark.parametrize("folder", ["base", "gpu"])
def test_kustomize_builds_the_folder(folder: str) -> None:
    result = _kubectl_kustomize(K8S / folder)
    assert result.returncode == 0, result.stderr
    rendered = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    sources = [d for p in (K8S / folder).glob("*.yaml") for d in load_all(p) if d["kind"] != "Kustomization"]
    assert len(rendered) == len(sources)
    assert all(doc["kind"] == "Namespace" or doc["metadata"]["namespace"] == "salesai" for doc in rendered)
