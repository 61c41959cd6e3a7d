"""What every benchmark records beside its figures: the machine and the versions measured."""

from __future__ import annotations

import json
import os
import platform
from importlib import metadata
from pathlib import Path


def machine(*packages: str) -> dict[str, object]:
    return {
        "python": platform.python_version(),
        **{name: metadata.version(name) for name in packages},
        "machine": platform.machine(),
        "cores": os.cpu_count(),
    }


def write(path: Path, report: dict[str, object]) -> None:
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {path}")
