"""The alert rules of deploy/, run by Prometheus' own ``promtool``: valid, and firing as specified.

``promtool check rules`` validates the PrometheusRule's groups as rendered for the base and every
overlay (an overlay's settings must still make valid rules); ``promtool test rules`` runs the unit
tests of tests/alerts/ (input series → the alerts expected at given times, with their rendered
annotations) against the base's rules, i.e. the default thresholds. promtool comes from Debian's
``prometheus`` package; ``make test`` installs it when it can. Without it these tests skip, except
under CI (``CI`` set), where a missing promtool is a failure.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Final

import pytest
import yaml

from tests.test_deploy import Variant, _run, render_variants

UNIT_TESTS: Final = Path(__file__).resolve().parent / "alerts"
# The name the unit tests' rule_files give the rules they test.
RULES_FILE: Final = "freshsales-destination.rules.yaml"


@pytest.fixture(scope="module")
def promtool() -> Path:
    found = shutil.which("promtool")
    if found is None:
        why = "promtool not found (Debian: apt-get install prometheus; `make test` installs it)"
        if os.environ.get("CI"):
            pytest.fail(f"{why}: CI must run the alert rule tests")
        pytest.skip(why)
    return Path(found)


@pytest.fixture(scope="module")
def variants() -> list[Variant]:
    return render_variants()


def _promtool(promtool: Path, *args: str | Path, cwd: Path) -> str:
    """promtool's output; a failure shows it."""
    done = _run([promtool, *args], cwd=cwd)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"promtool {' '.join(map(str, args[:2]))}:\n{output}"
    return output


def _write_rules(variant: Variant, directory: Path) -> Path:
    """The PrometheusRule's groups as the plain rules file that promtool reads."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / RULES_FILE
    groups = variant.one("PrometheusRule")["spec"]["groups"]
    path.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False), encoding="utf-8")
    return path


def _unit_tests() -> dict[str, Any]:
    files = sorted(UNIT_TESTS.glob("*.yaml"))
    assert files, f"no unit tests in {UNIT_TESTS}"
    return {f.name: yaml.safe_load(f.read_text(encoding="utf-8")) for f in files}


def test_rules_of_every_variant_pass_promtool_check(
    promtool: Path, variants: list[Variant], tmp_path: Path
) -> None:
    for variant in variants:
        output = _promtool(
            promtool, "check", "rules", _write_rules(variant, tmp_path / variant.name), cwd=tmp_path
        )
        assert "SUCCESS" in output, f"{variant.name}: {output}"


def test_alerts_fire_and_stay_quiet_as_their_unit_tests_say(
    promtool: Path, variants: list[Variant], tmp_path: Path
) -> None:
    base = next(v for v in variants if v.name == "base")
    _write_rules(base, tmp_path)
    names = []
    for test in sorted(UNIT_TESTS.glob("*.yaml")):
        shutil.copy(test, tmp_path / test.name)
        names.append(test.name)
    output = _promtool(promtool, "test", "rules", *names, cwd=tmp_path)
    assert output.count("SUCCESS") == len(names), output


def test_every_alert_has_a_case_that_fires_it_and_one_that_must_not(
    variants: list[Variant],
) -> None:
    base = next(v for v in variants if v.name == "base")
    alerts = {
        r["alert"]
        for g in base.one("PrometheusRule")["spec"]["groups"]
        for r in g["rules"]
        if "alert" in r
    }
    fires: set[str] = set()
    quiet: set[str] = set()
    for name, document in _unit_tests().items():
        assert document["rule_files"] == [RULES_FILE], name
        for case in document["tests"]:
            assert case.get("name"), f"{name}: say what each case shows"
            for check in case.get("alert_rule_test", []):
                (fires if check.get("exp_alerts") else quiet).add(check["alertname"])
    assert fires == alerts, f"no case fires: {sorted(alerts - fires)}"
    assert quiet == alerts, f"no case stays quiet: {sorted(alerts - quiet)}"
