"""Where API calls go: the account's API base URL, derived from the domain setting.

The API key travels with every call, so the base URL is the one place that decides where the key
may be sent. Only the two Freshsales host patterns are accepted from the domain setting; an explicit
override (simulator, proxy) must be https, or plain http to a loopback address.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Final
from urllib.parse import urlsplit

from consumer.errors import ConfigurationError
from translate import Flavor

_SUITE_SUFFIX: Final = ".myfreshworks.com"
_CLASSIC_SUFFIX: Final = ".freshsales.io"
_API_PATH: Final = {Flavor.SUITE: "/crm/sales/api", Flavor.CLASSIC: "/api"}
# A bundle alias is one DNS label; Freshworks adds numeric suffixes ("acme-34234423").
_LABEL: Final = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\Z")
_FORMS: Final = (
    "expected an account name (acme), acme.myfreshworks.com, acme.freshsales.io"
    " or https://acme.myfreshworks.com/crm/sales"
)


def api_base(domain: str, flavor: Flavor, override: str | None = None) -> str:
    """The API base URL (no trailing slash) for ``domain``, or ``override`` when one is set."""
    if override:
        return _override(override)
    text = domain.strip()
    if not text:
        raise ConfigurationError("FRESHSALES_DOMAIN is empty; " + _FORMS)
    host, path = _split(text)
    if "." not in host and "://" not in text:
        _check_label(host, text)
        host += _SUITE_SUFFIX if flavor is Flavor.SUITE else _CLASSIC_SUFFIX
    host_flavor = _flavor_of(host, text)
    if host_flavor is not flavor:
        raise ConfigurationError(
            f"FRESHSALES_DOMAIN {text!r} is a {host_flavor.value} host but FRESHSALES_FLAVOR"
            f" is {flavor.value}; set FRESHSALES_FLAVOR={host_flavor.value} or fix the domain"
        )
    api = _API_PATH[flavor]
    if path.rstrip("/") not in ("", api.removesuffix("/api"), api):
        raise ConfigurationError(f"FRESHSALES_DOMAIN {text!r}: unexpected path {path!r}; {_FORMS}")
    return f"https://{host}{api}"


def _split(text: str) -> tuple[str, str]:
    if "://" not in text:
        host, slash, rest = text.partition("/")
        return host.lower(), slash + rest
    parts = urlsplit(text)
    if parts.scheme.lower() != "https":
        raise ConfigurationError(f"FRESHSALES_DOMAIN {text!r}: Freshsales is reached over https")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ConfigurationError(
            f"FRESHSALES_DOMAIN {text!r}: credentials, query and fragment are not allowed"
        )
    if parts.port not in (None, 443):
        raise ConfigurationError(f"FRESHSALES_DOMAIN {text!r}: only the standard https port")
    return (parts.hostname or ""), parts.path


def _check_label(label: str, text: str) -> None:
    if not _LABEL.match(label):
        raise ConfigurationError(f"FRESHSALES_DOMAIN {text!r} is not an account name; {_FORMS}")


def _flavor_of(host: str, text: str) -> Flavor:
    for suffix, flavor in ((_SUITE_SUFFIX, Flavor.SUITE), (_CLASSIC_SUFFIX, Flavor.CLASSIC)):
        if host.endswith(suffix):
            _check_label(host.removesuffix(suffix), text)
            return flavor
    raise ConfigurationError(
        f"FRESHSALES_DOMAIN {text!r} is not a Freshsales host (*.myfreshworks.com or"
        " *.freshsales.io); the API key is only ever sent there. Use FRESHSALES_BASE_URL for a"
        " proxy or the simulator"
    )


def _override(url: str) -> str:
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(f"FRESHSALES_BASE_URL {url!r} is not an http(s) URL")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ConfigurationError(
            f"FRESHSALES_BASE_URL {url!r}: credentials, query and fragment are not allowed"
        )
    try:
        port = parts.port
    except ValueError:
        raise ConfigurationError(f"FRESHSALES_BASE_URL {url!r} has an invalid port") from None
    if scheme == "http" and not is_loopback(parts.hostname):
        raise ConfigurationError(
            f"FRESHSALES_BASE_URL {url!r}: plain http is only allowed to a loopback address;"
            " the API key must not cross a network unencrypted"
        )
    netloc = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    if port is not None:
        netloc += f":{port}"
    return f"{scheme}://{netloc}{parts.path.rstrip('/')}"


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
