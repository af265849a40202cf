"""The Kubernetes manifests (k8s/): rendered as kustomize would, validated offline against the
Kubernetes API's schemas (kubernetes-validate, strict), and held to the gateway's settings
and to the security rules in docs/operations.md.

There is no kustomize binary here, so `render` implements the subset the manifests use and
refuses everything else: `resources` (files and directories), JSON 6902 `patches` targeted
by kind and name (add, remove, replace, test), `namespace`, `labels` on metadata only
(includeSelectors and includeTemplates false) and `images`, applied in kustomize's order.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import kubernetes_validate
import pytest
import yaml
from pydantic import BaseModel, SecretStr

from gateway.settings import Environment, Settings

Doc = dict[str, Any]

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "k8s"
BROKEN = Path(__file__).parent / "fixtures" / "k8s_broken"
OPERATIONS_DOC = ROOT / "docs" / "operations.md"
TARGETS = ("base", "overlays/dev", "overlays/prod")
OVERLAYS = ("dev", "prod")
# The oldest minor we support and the newest the pinned kubernetes-validate ships.
KUBERNETES_VERSIONS = ("1.30", "1.37")
GATEWAY_IMAGE = "omnigate"
REQUEST_RATE_METRIC = "omnigate_http_requests_per_second"


# --- a kustomize-subset renderer --------------------------------------------------------


class UnsupportedKustomization(Exception):
    """A field or patch form the renderer does not implement: never guess its semantics."""


class PatchFailed(Exception):
    pass


_KUSTOMIZATION_FIELDS = {
    "apiVersion",
    "kind",
    "resources",
    "namespace",
    "labels",
    "images",
    "patches",
}
_NAMESPACED_KINDS = {
    "ConfigMap",
    "Deployment",
    "HorizontalPodAutoscaler",
    "Job",
    "NetworkPolicy",
    "PodDisruptionBudget",
    "Service",
    "ServiceAccount",
    "StatefulSet",
}


def render(directory: Path) -> list[Doc]:
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    if kustomization.get("kind") != "Kustomization":
        raise UnsupportedKustomization(f"{directory}: not a Kustomization")
    unknown = set(kustomization) - _KUSTOMIZATION_FIELDS
    if unknown:
        raise UnsupportedKustomization(f"{directory}: {sorted(unknown)}")

    docs: list[Doc] = []
    for entry in kustomization.get("resources", []):
        path = directory / entry
        if path.is_dir():
            docs += render(path)
        else:
            docs += [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    ids = [(d["kind"], d["metadata"]["name"]) for d in docs]
    if len(ids) != len(set(ids)):
        raise UnsupportedKustomization(f"{directory}: duplicate resources {ids}")

    # kustomize's order: patches, namespace, labels, images.
    for patch in kustomization.get("patches", []):
        _apply_patch(docs, directory, patch)
    if "namespace" in kustomization:
        for doc in docs:
            if doc["kind"] not in _NAMESPACED_KINDS:
                raise UnsupportedKustomization(f"namespace for kind {doc['kind']}")
            doc["metadata"]["namespace"] = kustomization["namespace"]
    for label in kustomization.get("labels", []):
        if set(label) - {"pairs", "includeSelectors", "includeTemplates"} or (
            label.get("includeSelectors") or label.get("includeTemplates")
        ):
            raise UnsupportedKustomization(f"labels entry {label}")
        for doc in docs:
            doc["metadata"].setdefault("labels", {}).update(label["pairs"])
    for image in kustomization.get("images", []):
        if set(image) - {"name", "newName", "newTag", "digest"}:
            raise UnsupportedKustomization(f"images entry {image}")
        for container in _all_containers(docs):
            _set_image(container, image)
    return docs


def _apply_patch(docs: list[Doc], directory: Path, patch: Doc) -> None:
    target = patch.get("target", {})
    if set(patch) - {"path", "patch", "target"} or set(target) - {"kind", "name"}:
        raise UnsupportedKustomization(f"patch {patch}")
    text = (directory / patch["path"]).read_text() if "path" in patch else patch["patch"]
    ops = yaml.safe_load(text)
    if not isinstance(ops, list):
        raise UnsupportedKustomization("only JSON 6902 patches (a list of operations)")
    matched = [
        d
        for d in docs
        if d["kind"] == target.get("kind", d["kind"])
        and d["metadata"]["name"] == target.get("name", d["metadata"]["name"])
    ]
    if not matched:
        raise PatchFailed(f"patch target {target} matches no resource")
    for doc in matched:
        json_patch(doc, ops)


def json_patch(doc: Doc, ops: list[Doc]) -> None:
    """RFC 6902 add, remove, replace and test, in place."""
    for op in ops:
        if not op.get("path", "").startswith("/"):
            raise PatchFailed(f"bad path in {op}")
        tokens = [t.replace("~1", "/").replace("~0", "~") for t in op["path"][1:].split("/")]
        parent: Any = doc
        for token in tokens[:-1]:
            parent = parent[int(token)] if isinstance(parent, list) else parent[token]
        last = tokens[-1]
        name = op["op"]
        if name == "add":
            value = copy.deepcopy(op["value"])
            if isinstance(parent, list):
                index = len(parent) if last == "-" else int(last)
                if not 0 <= index <= len(parent):
                    raise PatchFailed(f"index out of range in {op}")
                parent.insert(index, value)
            else:
                parent[last] = value
            continue
        key: Any = int(last) if isinstance(parent, list) else last
        try:
            current = parent[key]
        except (KeyError, IndexError) as e:
            raise PatchFailed(f"{op['path']} does not exist") from e
        if name == "test":
            if current != op["value"]:
                raise PatchFailed(f"test failed at {op['path']}: {current!r} != {op['value']!r}")
        elif name == "replace":
            parent[key] = copy.deepcopy(op["value"])
        elif name == "remove":
            del parent[key]
        else:
            raise UnsupportedKustomization(f"JSON patch op {name!r}")


def _pod_spec(doc: Doc) -> Doc | None:
    if doc["kind"] in {"Deployment", "StatefulSet", "Job"}:
        spec: Doc = doc["spec"]["template"]["spec"]
        return spec
    return None


def _all_containers(docs: list[Doc]) -> Iterator[Doc]:
    for doc in docs:
        spec = _pod_spec(doc)
        if spec is not None:
            yield from spec.get("initContainers", [])
            yield from spec["containers"]


def _set_image(container: Doc, image: Doc) -> None:
    ref = container["image"]
    name = re.split(r"@|:(?=[^/]*$)", ref, maxsplit=1)[0]
    if name != image["name"]:
        return
    rest = ref[len(name) :]
    if "digest" in image:
        rest = "@" + image["digest"]
    elif "newTag" in image:
        rest = ":" + str(image["newTag"])
    container["image"] = image.get("newName", name) + rest


@cache
def _rendered(target: str) -> list[Doc]:
    return render(K8S / target)


def rendered(target: str) -> list[Doc]:
    return copy.deepcopy(_rendered(target))


def one(docs: list[Doc], kind: str, name: str) -> Doc:
    (doc,) = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return doc


def gateway_container(docs: list[Doc]) -> Doc:
    (container,) = one(docs, "Deployment", "omnigate")["spec"]["template"]["spec"]["containers"]
    return container


# --- the settings the manifests may set ---------------------------------------------------


def settings_env_names(model: type[BaseModel] = Settings, prefix: str = "OMNIGATE_") -> set[str]:
    """Every leaf setting as an environment variable: the prefix, nested sections by `__`."""
    names: set[str] = set()
    for field_name, field in model.model_fields.items():
        env = prefix + field_name.upper()
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names |= settings_env_names(annotation, env + "__")
        else:
            names.add(env)
    return names


def secret_settings_env_names(
    model: type[BaseModel] = Settings, prefix: str = "OMNIGATE_"
) -> set[str]:
    names: set[str] = set()
    for field_name, field in model.model_fields.items():
        env = prefix + field_name.upper()
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names |= secret_settings_env_names(annotation, env + "__")
        elif annotation is SecretStr:
            names.add(env)
    return names


def unknown_env_names(names: list[str]) -> list[str]:
    known = settings_env_names()
    return sorted(n for n in names if n not in known)


def gateway_environment(docs: list[Doc]) -> dict[str, Doc]:
    """Each variable the gateway container gets -> where from: {"value": ...},
    {"secretKeyRef": {...}} or {"configMap": name, "value": ...}."""
    container = gateway_container(docs)
    environment: dict[str, Doc] = {}
    for source in container.get("envFrom", []):
        assert set(source) <= {"configMapRef", "prefix"}, f"unsupported envFrom {source}"
        config_map = one(docs, "ConfigMap", source["configMapRef"]["name"])
        for key, value in config_map["data"].items():
            environment[source.get("prefix", "") + key] = {
                "configMap": config_map["metadata"]["name"],
                "value": value,
            }
    for var in container.get("env", []):
        if "value" in var:
            environment[var["name"]] = {"value": var["value"]}
        else:
            environment[var["name"]] = dict(var["valueFrom"])
    return environment


_SECRET_WORDS = ("TOKEN", "SECRET", "PASSWORD")
_URI_WITH_CREDENTIALS = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s@]+@", re.IGNORECASE)


def literal_secret_problems(environment: dict[str, Doc]) -> list[str]:
    problems = []
    for name, source in environment.items():
        if "value" not in source:
            continue
        if any(word in name for word in _SECRET_WORDS):
            problems.append(f"{name}: literal value for a credential")
        if _URI_WITH_CREDENTIALS.search(str(source["value"])):
            problems.append(f"{name}: URI with credentials")
    return problems


# --- schema validation ----------------------------------------------------------------------


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("target", TARGETS)
def test_rendered_manifests_are_valid_kubernetes(target: str, version: str) -> None:
    docs = rendered(target)
    assert docs
    for doc in docs:
        try:
            validated = kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as e:
            pytest.fail(f"{target}: {doc['kind']}/{doc['metadata']['name']}: {e.message}")
        # validate() quietly falls back to an older schema set if it lacks this version
        assert validated == version


def test_the_installed_validator_ships_the_versions_we_name() -> None:
    shipped = {".".join(v.split(".")[:2]) for v in kubernetes_validate.utils.all_versions()}
    assert set(KUBERNETES_VERSIONS) <= shipped


@pytest.mark.parametrize(
    ("name", "complaint"),
    [
        ("broken-misspelled", "'livenesProbe' was unexpected"),
        ("broken-wrong-type", "'8000' is not of type 'integer'"),
    ],
)
def test_broken_manifests_are_rejected(name: str, complaint: str) -> None:
    doc = one(render(BROKEN), "Deployment", name)
    with pytest.raises(kubernetes_validate.ValidationError) as caught:
        kubernetes_validate.validate(doc, KUBERNETES_VERSIONS[0], strict=True)
    assert complaint in caught.value.message


def test_only_strict_validation_catches_a_misspelled_field() -> None:
    doc = one(render(BROKEN), "Deployment", "broken-misspelled")
    kubernetes_validate.validate(doc, KUBERNETES_VERSIONS[0], strict=False)


# --- the renderer is honest about what it does not implement ---------------------------


def _kustomization(tmp_path: Path, text: str) -> Path:
    (tmp_path / "deployment.yaml").write_text(
        (K8S / "base" / "deployment.yaml").read_text(), encoding="utf-8"
    )
    (tmp_path / "kustomization.yaml").write_text(text, encoding="utf-8")
    return tmp_path


def test_the_renderer_refuses_fields_it_does_not_implement(tmp_path: Path) -> None:
    directory = _kustomization(
        tmp_path,
        "kind: Kustomization\nresources: [deployment.yaml]\nnamePrefix: x-\n",
    )
    with pytest.raises(UnsupportedKustomization, match="namePrefix"):
        render(directory)


def test_a_failed_patch_test_fails_the_render(tmp_path: Path) -> None:
    directory = _kustomization(
        tmp_path,
        "kind: Kustomization\nresources: [deployment.yaml]\npatches:\n"
        "  - target: {kind: Deployment, name: omnigate}\n"
        "    patch: '[{op: test, path: /spec/template/spec/containers/0/name, value: x}]'\n",
    )
    with pytest.raises(PatchFailed, match="test failed"):
        render(directory)


# --- settings --------------------------------------------------------------------------------


@pytest.mark.parametrize("target", TARGETS)
def test_every_variable_the_manifests_set_is_a_setting(target: str) -> None:
    assert unknown_env_names(list(gateway_environment(rendered(target)))) == []


def test_the_setting_check_catches_a_made_up_name() -> None:
    names = [
        "OMNIGATE_UPSTREAMS__SHOPIFY__RETRIES",
        "OMNIGATE_SQUARE__ACESS_TOKEN",
        "OMNIGATE_HTTP",
        "OMNIGATE_HTTP__TIMEOUT_SECONDS",  # moved to OMNIGATE_UPSTREAMS__ALL__DEADLINE_SECONDS
    ]
    assert unknown_env_names(names) == [
        "OMNIGATE_HTTP",
        "OMNIGATE_HTTP__TIMEOUT_SECONDS",
        "OMNIGATE_SQUARE__ACESS_TOKEN",
    ]
    assert "OMNIGATE_CACHE__PROFILE_TTL_SECONDS" in settings_env_names()


@pytest.mark.parametrize(
    ("overlay", "env", "graphiql"),
    [("dev", Environment.DEVELOPMENT, True), ("prod", Environment.PRODUCTION, False)],
)
def test_settings_accept_what_an_overlay_configures(
    overlay: str, env: Environment, graphiql: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in os.environ:
        if name.upper().startswith("OMNIGATE_"):
            monkeypatch.delenv(name)
    for name, source in gateway_environment(rendered(f"overlays/{overlay}")).items():
        if "secretKeyRef" in source:
            value = f"test-{source['secretKeyRef']['key']}"  # what the operator's Secret holds
        else:
            value = str(source["value"])
        monkeypatch.setenv(name, value)

    settings = Settings(_env_file=None)

    assert settings.env == env
    assert settings.graphiql_enabled is graphiql
    assert settings.upstreams.for_service("shopify").deadline_seconds == 5
    assert settings.request_deadline_seconds == 10
    assert settings.cache.profile_ttl_seconds == 300
    assert settings.shopify.base_url.startswith("https://")
    assert settings.salesforce.login_url.startswith("https://")


# --- security ------------------------------------------------------------------------------


@pytest.mark.parametrize("target", TARGETS)
def test_no_credential_is_written_into_the_manifests(target: str) -> None:
    docs = rendered(target)
    assert [d for d in docs if d["kind"] == "Secret"] == []
    environment = gateway_environment(docs)
    assert literal_secret_problems(environment) == []
    for container in _all_containers(docs):  # the MongoDB containers too
        literal = {v["name"]: v for v in container.get("env", [])}
        assert literal_secret_problems(literal) == []
    # every credential setting the gateway gets is a Secret reference or credential-free
    for name in secret_settings_env_names() & set(environment):
        source = environment[name]
        if "value" in source:
            assert not _URI_WITH_CREDENTIALS.search(source["value"]), name
            assert not any(word in name for word in _SECRET_WORDS), name
        else:
            assert "secretKeyRef" in source, name


def test_the_credential_check_catches_literals() -> None:
    environment = {
        "OMNIGATE_SHOPIFY__ACCESS_TOKEN": {"value": "shpat_0123"},
        "OMNIGATE_MONGODB_URI": {"value": "mongodb+srv://app:hunter2@db.example.net/"},
        "OMNIGATE_SALESFORCE__CLIENT_SECRET": {"secretKeyRef": {"name": "s", "key": "k"}},
        "OMNIGATE_HTTP__TIMEOUT_SECONDS": {"value": "5"},
    }
    assert literal_secret_problems(environment) == [
        "OMNIGATE_SHOPIFY__ACCESS_TOKEN: literal value for a credential",
        "OMNIGATE_MONGODB_URI: URI with credentials",
    ]


def test_production_takes_every_credential_from_a_secret() -> None:
    environment = gateway_environment(rendered("overlays/prod"))
    for name in secret_settings_env_names() | {"OMNIGATE_SALESFORCE__CLIENT_ID"}:
        assert "secretKeyRef" in environment[name], name


@pytest.mark.parametrize("target", TARGETS)
def test_every_container_runs_locked_down_with_resources(target: str) -> None:
    docs = rendered(target)
    for doc in docs:
        spec = _pod_spec(doc)
        if spec is None:
            continue
        where = f"{doc['kind']}/{doc['metadata']['name']}"
        assert spec["securityContext"]["runAsNonRoot"] is True, where
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", where
        assert spec["automountServiceAccountToken"] is False, where
        read_write = {v["name"] for v in spec.get("volumes", [])}
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["runAsNonRoot"] is True, where
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["capabilities"]["drop"] == ["ALL"], where
            mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
            assert mounts.get("/tmp") in read_write, f"{where}: no writable /tmp"
            for kind in ("requests", "limits"):
                assert set(container["resources"][kind]) >= {"cpu", "memory"}, where


@pytest.mark.parametrize("target", TARGETS)
def test_the_gateway_pod_serves_probes_and_drains(target: str) -> None:
    docs = rendered(target)
    deployment = one(docs, "Deployment", "omnigate")
    spec = deployment["spec"]["template"]["spec"]
    container = gateway_container(docs)

    assert container["image"].split(":")[0] == GATEWAY_IMAGE
    assert [*container["command"], *container["args"]] == [
        "omnigate",
        "serve",
        "--host",
        "0.0.0.0",
        "--port",
        "8000",
    ]
    (port,) = container["ports"]
    assert (port["name"], port["containerPort"]) == ("http", 8000)
    for probe, path in (
        ("startupProbe", "/healthz"),
        ("livenessProbe", "/healthz"),
        ("readinessProbe", "/readyz"),
    ):
        assert container[probe]["httpGet"] == {"path": path, "port": "http"}, probe
    # readiness must outlast its MongoDB ping (OMNIGATE_MONGODB_TIMEOUT_SECONDS)
    timeout = float(gateway_environment(docs)["OMNIGATE_MONGODB_TIMEOUT_SECONDS"]["value"])
    assert container["readinessProbe"]["timeoutSeconds"] > timeout

    # preStop's sleep, then the drain (OMNIGATE_SHUTDOWN_GRACE_SECONDS), then a margin for
    # the exit itself, all before the kubelet's SIGKILL; and the drain lets a request that
    # started just before SIGTERM run to its deadline.
    environment = gateway_environment(docs)
    grace = float(environment["OMNIGATE_SHUTDOWN_GRACE_SECONDS"]["value"])
    deadline = float(environment["OMNIGATE_REQUEST_DEADLINE_SECONDS"]["value"])
    pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    assert spec["terminationGracePeriodSeconds"] >= int(pre_stop[1]) + grace + 3
    assert grace >= deadline
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert "replicas" not in deployment["spec"], "the HPA owns the replica count"


# --- the pieces fit together -------------------------------------------------------------


def _selects(selector: Doc, labels: Doc) -> bool:
    assert set(selector) <= {"matchLabels"}, "only matchLabels selectors are checked here"
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


@pytest.mark.parametrize("target", TARGETS)
def test_selectors_and_references_resolve(target: str) -> None:
    docs = rendered(target)
    deployment = one(docs, "Deployment", "omnigate")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    spec = deployment["spec"]["template"]["spec"]

    assert _selects(deployment["spec"]["selector"], pod_labels)
    assert one(docs, "Service", "omnigate")["spec"]["selector"] == pod_labels
    assert one(docs, "Service", "omnigate")["spec"]["ports"][0]["targetPort"] == "http"
    assert _selects(one(docs, "PodDisruptionBudget", "omnigate")["spec"]["selector"], pod_labels)
    assert _selects(one(docs, "NetworkPolicy", "omnigate")["spec"]["podSelector"], pod_labels)
    for constraint in spec["topologySpreadConstraints"]:
        assert _selects(constraint["labelSelector"], pod_labels)
    one(docs, "ServiceAccount", spec["serviceAccountName"])

    hpa = one(docs, "HorizontalPodAutoscaler", "omnigate")
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "omnigate",
    }
    metrics = {m["type"]: m for m in hpa["spec"]["metrics"]}
    assert metrics["Resource"]["resource"]["name"] == "cpu"
    assert metrics["Pods"]["pods"]["metric"]["name"] == REQUEST_RATE_METRIC
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]

    namespaces = {d["metadata"].get("namespace") for d in docs}
    assert len(namespaces) == 1, namespaces


@pytest.mark.parametrize("target", TARGETS)
def test_the_network_policy_admits_only_what_the_gateway_needs(target: str) -> None:
    policy = one(rendered(target), "NetworkPolicy", "omnigate")["spec"]
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    for rule in policy["ingress"]:
        assert rule["ports"] == [{"protocol": "TCP", "port": 8000}]
        for peer in rule["from"]:
            assert set(peer) == {"namespaceSelector"}, peer
    egress_ports = {p["port"] for rule in policy["egress"] for p in rule["ports"]}
    expected = {53, 443} if target == "base" else {53, 443, 27017}
    assert egress_ports == expected


def test_dev_runs_a_three_member_replica_set_the_gateway_points_at() -> None:
    docs = rendered("overlays/dev")
    mongodb = one(docs, "StatefulSet", "mongodb")
    service = one(docs, "Service", mongodb["spec"]["serviceName"])
    assert service["spec"]["clusterIP"] == "None"
    assert service["spec"]["publishNotReadyAddresses"] is True
    pod_labels = mongodb["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"] == pod_labels
    assert mongodb["spec"]["replicas"] == 3
    (mongod,) = mongodb["spec"]["template"]["spec"]["containers"]
    replica_set = next(a.split("=")[1] for a in mongod["command"] if a.startswith("--replSet="))
    members = [f"mongodb-{i}.{service['metadata']['name']}:27017" for i in range(3)]

    uri = urlsplit(gateway_environment(docs)["OMNIGATE_MONGODB_URI"]["value"])
    assert uri.netloc.split(",") == members
    assert parse_qs(uri.query)["replicaSet"] == [replica_set]
    (init,) = one(docs, "Job", "mongodb-rs-init")["spec"]["template"]["spec"]["containers"]
    script = init["command"][-1]
    assert f'_id: "{replica_set}"' in script
    assert "mongodb-${i}.mongodb:27017" in script
    # An election (its timeout, plus about 2 s to hold it and for the gateway to find the
    # new primary) fits in the request deadline, so writes wait for it instead of failing
    # (docs/resilience.md "MongoDB failover"; tests/test_failover.py measures it).
    election_ms = int(re.search(r"electionTimeoutMillis: (\d+)", script).group(1))  # type: ignore[union-attr]
    deadline = float(gateway_environment(docs)["OMNIGATE_REQUEST_DEADLINE_SECONDS"]["value"])
    assert election_ms / 1000 + 2 < deadline

    # the gateway may reach the members, and the members admit the gateway
    gateway_labels = one(docs, "Deployment", "omnigate")["spec"]["template"]["metadata"]["labels"]
    egress = one(docs, "NetworkPolicy", "omnigate")["spec"]["egress"]
    assert any(
        "podSelector" in peer and _selects(peer["podSelector"], pod_labels)
        for rule in egress
        for peer in rule["to"]
    )
    admitted = one(docs, "NetworkPolicy", "mongodb")["spec"]["ingress"][0]["from"]
    assert any(_selects(peer["podSelector"], gateway_labels) for peer in admitted)


def test_prod_is_bigger_and_guaranteed() -> None:
    base = rendered("base")
    prod = rendered("overlays/prod")
    base_hpa = one(base, "HorizontalPodAutoscaler", "omnigate")["spec"]
    prod_hpa = one(prod, "HorizontalPodAutoscaler", "omnigate")["spec"]
    assert prod_hpa["minReplicas"] >= 3
    assert prod_hpa["minReplicas"] > base_hpa["minReplicas"]
    assert prod_hpa["maxReplicas"] > base_hpa["maxReplicas"]
    resources = gateway_container(prod)["resources"]
    assert resources["requests"] == resources["limits"]
    assert gateway_container(prod)["image"] == "omnigate:0.1.0"
    assert {d["metadata"]["namespace"] for d in prod} == {"omnigate"}


def test_the_operations_doc_names_every_secret_key_and_the_metric() -> None:
    text = OPERATIONS_DOC.read_text(encoding="utf-8")
    for source in gateway_environment(rendered("overlays/prod")).values():
        if "secretKeyRef" in source:
            assert source["secretKeyRef"]["name"] in text
            assert source["secretKeyRef"]["key"] in text
    assert REQUEST_RATE_METRIC in text
    assert "omnigate_http_request_duration_seconds_count" in text


# --- the image ---------------------------------------------------------------------------


def dockerfile_stages() -> list[tuple[str, list[str]]]:
    """(FROM line, instructions) per stage, continuation lines joined."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    stages: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            stages.append((line, []))
        elif stages:
            stages[-1][1].append(line)
    return stages


def test_the_image_is_multi_stage_slim_non_root_and_without_dev_dependencies() -> None:
    stages = dockerfile_stages()
    assert len(stages) >= 2
    args = dict(re.findall(r"^ARG (\w+)=(\S+)$", (ROOT / "Dockerfile").read_text(), re.M))
    for from_line, _ in stages:
        image = from_line.split()[1]
        image = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], image)
        assert "slim" in image, from_line
    _, runtime = stages[-1]
    # only the virtualenv and the GraphiQL assets come over: no compiler, no sources
    assert not [i for i in runtime if i.upper().startswith(("RUN PIP", "ADD "))], runtime
    (user,) = [i.split()[1] for i in runtime if i.upper().startswith("USER ")]
    uid = user.split(":")[0]
    assert uid.isdigit()  # numeric, so runAsNonRoot can verify it
    assert int(uid) != 0
    pod = one(rendered("base"), "Deployment", "omnigate")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsUser"] == int(uid)
    installs = [i for _, body in stages for i in body if "pip install" in i]
    assert installs
    assert all("[dev]" not in i and "-e " not in i for i in installs), installs
    # every setting the image sets is a real one
    env_names = re.findall(r"\b(OMNIGATE_[A-Z0-9_]+)=", "\n".join(runtime))
    assert env_names
    assert unknown_env_names(env_names) == []


def test_the_build_context_admits_no_secrets_or_local_state() -> None:
    ignore = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    patterns = [line.strip() for line in ignore if line.strip() and not line.startswith("#")]
    assert patterns[0] == "**"  # everything out, then only what the build copies back in
    admitted = [p[1:] for p in patterns if p.startswith("!")]
    assert not [p for p in admitted if p.startswith((".env", ".venv", ".data", "tests"))]
    assert "**/.env" in patterns


def test_the_build_context_admits_everything_the_image_copies() -> None:
    ignore = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    admitted = [line.strip()[1:].rstrip("/") for line in ignore if line.startswith("!")]
    copied = [
        source
        for _, body in dockerfile_stages()
        for instruction in body
        if instruction.upper().startswith("COPY ") and "--from=" not in instruction
        for source in instruction.split()[1:-1]
    ]
    assert "requirements/lock.txt" in copied
    refused = [s for s in copied if not any(s == a or s.startswith(f"{a}/") for a in admitted)]
    assert refused == []
