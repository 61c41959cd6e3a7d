"""Golden cases: each file in tests/golden/ is one Segment event (or raw message), the options it
is translated with, the docs/mapping.md rule it illustrates, and the exact expected output.

To accept a deliberate change of output, run ``UPDATE_GOLDEN=1 pytest tests/test_golden.py`` and
review the diff of tests/golden/ like any other change.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.golden_support import run_case

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(GOLDEN.glob("*.json"))


def _load(path: Path) -> dict[str, Any]:
    case: dict[str, Any] = json.loads(path.read_text())
    return case


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_golden_case(path: Path) -> None:
    case = _load(path)
    actual = run_case(case)
    if os.environ.get("UPDATE_GOLDEN") == "1":
        case["expected"] = actual
        path.write_text(json.dumps(case, indent=2, ensure_ascii=False) + "\n")
    assert actual == case["expected"], case["rule"]


def test_every_case_names_the_rule_it_illustrates() -> None:
    assert len(CASES) >= 60
    for path in CASES:
        case = _load(path)
        assert case["rule"].strip(), path.name
        assert {"event", "raw", "raw_hex"} & case.keys(), path.name


def test_seed_examples_are_covered_in_both_flavours() -> None:
    names = {p.stem for p in CASES}
    for seed in ("identify_lead", "identify_contact", "identify_deal", "track", "page"):
        assert {f"seed_{seed}_suite", f"seed_{seed}_classic"} <= names
    assert {"group_seed_suite", "group_seed_classic", "screen_suite", "screen_classic"} <= names
