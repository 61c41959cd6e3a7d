"""The rooms' imports run one way: from the commands down to translation, never back up.

    commands → service → ops → kafka → engine → identity → freshsales → base → translate
                                 settings ↗   (base: errors, backoff, logs)

Settings sit beside the engine: kafka, the service and the commands read them, the engine not.

Lower rooms never import higher ones; the service never imports the sandbox (its stand-ins
import it). Checked on the source, so a new import that breaks the order fails here first.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Final

import pytest

ROOT: Final = Path(__file__).resolve().parent.parent
BASE: Final = frozenset({"consumer", "consumer.errors", "consumer.backoff", "consumer.logs"})
ALLOWED: Final = {
    "translate": {"translate"},
    "base": {"translate", "base"},
    "freshsales": {"translate", "base", "freshsales"},
    "identity": {"translate", "base", "freshsales", "identity"},
    "engine": {"translate", "base", "freshsales", "identity", "engine"},
    "settings": {"translate", "base", "freshsales", "settings"},
    "kafka": {"translate", "base", "freshsales", "identity", "engine", "settings", "kafka"},
    "ops": {"translate", "base", "freshsales", "identity", "engine", "kafka", "ops"},
    "service": {
        "translate",
        "base",
        "freshsales",
        "identity",
        "engine",
        "settings",
        "kafka",
        "ops",
        "service",
    },
    "commands": {
        "translate",
        "base",
        "freshsales",
        "identity",
        "engine",
        "settings",
        "kafka",
        "ops",
        "service",
        "commands",
    },
}


def room(module: str) -> str | None:
    """The room of a module of this project; None for anything else (stdlib, libraries)."""
    if module == "translate" or module.startswith("translate."):
        return "translate"
    if module == "sandbox" or module.startswith("sandbox."):
        return "sandbox"
    if module in BASE or module == "consumer.__main__":
        return "base" if module != "consumer.__main__" else "commands"
    parts = module.split(".")
    if parts[0] != "consumer" or len(parts) < 2:
        return None
    return parts[1]


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            # ``from consumer import errors`` imports the module consumer.errors.
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def modules() -> list[tuple[str, Path]]:
    found = []
    for package in ("consumer", "translate"):
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found.append((name, path))
    return found


@pytest.mark.parametrize(("name", "path"), modules(), ids=lambda v: v if isinstance(v, str) else "")
def test_a_module_imports_only_its_own_room_and_the_rooms_below(name: str, path: Path) -> None:
    own = room(name)
    assert own in ALLOWED, f"{name}: not in any room"
    wrong = set()
    for target in imports(path):
        if target.endswith(".__version__"):
            target = target.rsplit(".", 1)[0]
        other = room(target)
        if other is not None and other not in ALLOWED[own]:
            # ``from consumer import x`` names a module or an attribute: judge the module.
            if room(target.rsplit(".", 1)[0]) == "base" and other not in ALLOWED:
                continue
            wrong.add(f"{target} ({other})")
    assert not wrong, f"{name} ({own}) imports a higher room: {sorted(wrong)}"


def test_every_room_is_a_folder_and_the_top_level_holds_only_the_base_and_the_assembly() -> None:
    top = {p.stem for p in (ROOT / "consumer").glob("*.py")}
    assert top == {"__init__", "__main__", "errors", "backoff", "logs", "service"}
    folders = {p.name for p in (ROOT / "consumer").iterdir() if (p / "__init__.py").exists()}
    assert folders == {"commands", "engine", "freshsales", "identity", "kafka", "ops", "settings"}
