"""The API base URL: the domain forms docs/mapping.md accepts, and the hosts the key may never
reach."""

from __future__ import annotations

import pytest

from consumer.errors import ConfigurationError
from consumer.freshsales.endpoint import api_base
from translate import Flavor

SUITE, CLASSIC = Flavor.SUITE, Flavor.CLASSIC


@pytest.mark.parametrize(
    ("domain", "flavor", "base"),
    [
        ("acme", SUITE, "https://acme.myfreshworks.com/crm/sales/api"),
        ("acme", CLASSIC, "https://acme.freshsales.io/api"),
        ("acme-34234423", SUITE, "https://acme-34234423.myfreshworks.com/crm/sales/api"),
        ("  ACME  ", SUITE, "https://acme.myfreshworks.com/crm/sales/api"),
        ("acme.myfreshworks.com", SUITE, "https://acme.myfreshworks.com/crm/sales/api"),
        ("acme.myfreshworks.com/crm/sales", SUITE, "https://acme.myfreshworks.com/crm/sales/api"),
        ("acme.freshsales.io", CLASSIC, "https://acme.freshsales.io/api"),
        ("https://acme.myfreshworks.com", SUITE, "https://acme.myfreshworks.com/crm/sales/api"),
        (
            "https://acme.myfreshworks.com/crm/sales",
            SUITE,
            "https://acme.myfreshworks.com/crm/sales/api",
        ),
        (
            "https://Acme.MyFreshworks.com/crm/sales/api/",
            SUITE,
            "https://acme.myfreshworks.com/crm/sales/api",
        ),
        (
            "https://acme.myfreshworks.com:443/",
            SUITE,
            "https://acme.myfreshworks.com/crm/sales/api",
        ),
        ("https://acme.freshsales.io/api", CLASSIC, "https://acme.freshsales.io/api"),
    ],
)
def test_accepted_domain_forms_normalise_to_the_api_base(domain, flavor, base) -> None:
    assert api_base(domain, flavor) == base


@pytest.mark.parametrize(
    ("domain", "flavor", "complaint"),
    [
        ("", SUITE, "empty"),
        ("acme.example.com", SUITE, "not a Freshsales host"),
        ("https://evil.com/acme.myfreshworks.com", SUITE, "not a Freshsales host"),
        ("acme.myfreshworks.com.evil.com", SUITE, "not a Freshsales host"),
        ("https://myfreshworks.com", SUITE, "not a Freshsales host"),
        ("https://acme", SUITE, "not a Freshsales host"),
        ("http://acme.myfreshworks.com", SUITE, "https"),
        ("https://user:pw@acme.myfreshworks.com", SUITE, "credentials"),
        ("https://acme.myfreshworks.com/crm/sales?x=1", SUITE, "query"),
        ("https://acme.myfreshworks.com:8443", SUITE, "port"),
        ("acme.myfreshworks.com/somewhere/else", SUITE, "unexpected path"),
        ("a..b.myfreshworks.com", SUITE, "not an account name"),
        ("ac me", SUITE, "not an account name"),
        ("-acme", SUITE, "not an account name"),
        ("acme.freshsales.io", SUITE, "FRESHSALES_FLAVOR=classic"),
        ("acme.myfreshworks.com", CLASSIC, "FRESHSALES_FLAVOR=suite"),
    ],
)
def test_other_hosts_and_malformed_domains_are_configuration_errors(
    domain, flavor, complaint
) -> None:
    with pytest.raises(ConfigurationError, match="FRESHSALES_DOMAIN") as caught:
        api_base(domain, flavor)
    assert complaint in str(caught.value)
    assert caught.value.fatal


@pytest.mark.parametrize(
    ("override", "base"),
    [
        ("http://127.0.0.1:8765/crm/sales/api", "http://127.0.0.1:8765/crm/sales/api"),
        ("http://localhost:8765/api/", "http://localhost:8765/api"),
        ("http://[::1]:8765/crm/sales/api", "http://[::1]:8765/crm/sales/api"),
        ("http://127.5.6.7/api", "http://127.5.6.7/api"),
        ("https://proxy.internal:8443/freshsales", "https://proxy.internal:8443/freshsales"),
    ],
)
def test_an_explicit_base_url_wins_over_the_domain(override, base) -> None:
    assert api_base("ignored.example.com", SUITE, override) == base


@pytest.mark.parametrize(
    ("override", "complaint"),
    [
        ("http://10.0.0.5:8765/api", "loopback"),
        ("http://simulator.svc.cluster.local/api", "loopback"),
        ("ftp://127.0.0.1/api", "not an http(s) URL"),
        ("127.0.0.1:8765", "not an http(s) URL"),
        ("https://u:p@proxy.internal/api", "credentials"),
        ("http://127.0.0.1:99999/api", "invalid port"),
    ],
)
def test_a_base_url_must_not_expose_the_key(override, complaint) -> None:
    with pytest.raises(ConfigurationError, match="FRESHSALES_BASE_URL") as caught:
        api_base("acme", SUITE, override)
    assert complaint in str(caught.value)
