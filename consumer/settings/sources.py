"""Where the settings' text comes from: the environment, then a mounted secrets directory.

A secret (a ``SecretStr`` field) may instead be a file named after its variable in the
``SECRETS_DIR`` directory, as Kubernetes mounts a Secret. A variable that is set, even to an
empty value, wins over its file. Other settings never come from files: the directory holds only
what a Secret holds. A blank value counts as unset, so its default applies. Names are matched
exactly, as the process sees them.

A directory that does not exist is no error: the same manifests run with and without a Secret.
A file that exists but cannot be read is reported with every other problem, as a problem of the
setting it was meant for, and without anything it may contain.

pydantic-settings' own secrets source is not used: it warns about a missing directory, passes
over an unreadable file with a warning, and would read every setting from a file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args

from pydantic import SecretStr
from pydantic.fields import FieldInfo
from pydantic_settings import PydanticBaseSettingsSource

if TYPE_CHECKING:
    from pydantic_settings import BaseSettings


@dataclass(frozen=True)
class Unreadable:
    """A secret file that exists but cannot be read; the setting it is for reports it."""

    reason: str

    def __str__(self) -> str:
        return f"cannot read the mounted secret ({self.reason})"


def variable_of(name: str, field: FieldInfo) -> str:
    """The environment variable of a setting: its validation alias."""
    if not isinstance(field.validation_alias, str):
        raise TypeError(f"setting {name} has no environment variable")
    return field.validation_alias


def is_secret(field: FieldInfo) -> bool:
    return field.annotation is SecretStr or SecretStr in get_args(field.annotation)


class EnvironmentSource(PydanticBaseSettingsSource):
    """The settings' text from ``environ`` and, for the secrets, ``secrets_dir``.

    ``secrets_dir`` defaults to ``SECRETS_DIR`` in ``environ``. Values are keyed by variable."""

    def __init__(
        self,
        settings_cls: type[BaseSettings],
        environ: Mapping[str, str],
        secrets_dir: Path | None = None,
    ) -> None:
        super().__init__(settings_cls)
        self.environ = environ
        if secrets_dir is None and environ.get("SECRETS_DIR"):
            secrets_dir = Path(environ["SECRETS_DIR"])
        self.secrets_dir = secrets_dir

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        variable = variable_of(field_name, field)
        value: str | Unreadable | None = self.environ.get(variable)
        if value is None and self.secrets_dir is not None and is_secret(field):
            value = _read_secret(self.secrets_dir / variable)
        if isinstance(value, str) and not value.strip():
            value = None
        return value, variable, False

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, field in self.settings_cls.model_fields.items():
            value, variable, _ = self.get_field_value(field, name)
            if value is not None:
                values[variable] = value
        return values

    def __repr__(self) -> str:
        return f"{type(self).__name__}(secrets_dir={self.secrets_dir!r})"


def _read_secret(path: Path) -> str | Unreadable | None:
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        return Unreadable(exc.strerror or type(exc).__name__)
    except UnicodeDecodeError:
        # The exception's text quotes the offending bytes: part of the secret.
        return Unreadable("not UTF-8 text")
