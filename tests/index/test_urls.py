"""Credentials redacted and split off; plain http refused off loopback."""

from __future__ import annotations

import pytest

from torchlock.errors import PackageIndexError
from torchlock.index.urls import check_index_url, is_loopback, redact, split_credentials


def test_redact() -> None:
    assert redact("https://user:s3cret@host/simple") == "https://user:***@host/simple"
    assert redact("https://tok3n@host/simple") == "https://***@host/simple"
    assert redact("no url here") == "no url here"
    text = "GET https://a:b@x/ then http://c:d@y/z"
    assert redact(text) == "GET https://a:***@x/ then http://c:***@y/z"


def test_split_credentials() -> None:
    url, creds = split_credentials("https://us%40er:p%3Ass@host:8443/simple")
    assert url == "https://host:8443/simple"
    assert creds == ("us@er", "p:ss")
    assert split_credentials("https://host/simple") == ("https://host/simple", None)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("localhost", True), ("127.0.0.1", True), ("127.8.9.1", True), ("::1", True),
     ("[::1]", True), ("10.0.0.1", False), ("index.invalid", False), ("LocalHost", True),
     ("pkgs.localhost", True), ("localhost.example", False)],
)  # fmt: skip
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_is_loopback_agrees_with_ipaddress_on_literals() -> None:
    import ipaddress

    hosts = [
        "127.0.0.1", "127.255.255.255", "127.1", "127.0.0.256", "127.00.0.1", "127.0.0.-1",
        "[::1]", "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1", "10.0.0.1", "128.0.0.1",
        "127.0.0.1.nip.io", "\uff11\uff12\uff17.0.0.1",
    ]  # fmt: skip
    for host in hosts:
        try:
            expected = ipaddress.ip_address(host.strip("[]")).is_loopback
        except ValueError:
            expected = False
        assert is_loopback(host) is expected, host


def test_plain_http_refused_unless_loopback_or_trusted() -> None:
    check_index_url("http://127.0.0.1:8080/simple", frozenset())
    check_index_url("https://index.invalid/simple", frozenset())
    check_index_url("http://index.invalid/simple", frozenset({"index.invalid"}))
    check_index_url("http://index.invalid:8080/simple", frozenset({"index.invalid"}))  # any port
    check_index_url("http://index.invalid:8080/simple", frozenset({"index.invalid:8080"}))
    with pytest.raises(PackageIndexError):
        check_index_url("http://index.invalid:8081/simple", frozenset({"index.invalid:8080"}))
    with pytest.raises(PackageIndexError) as caught:
        check_index_url("http://u:pw@index.invalid/simple", frozenset())
    message = str(caught.value)
    assert message.startswith("refusing plain-http package index http://u:***@index.invalid")
    assert "--trusted-host index.invalid" in message
    assert "pw" not in message.replace("plain-http", "")
    with pytest.raises(PackageIndexError, match="unsupported package index URL"):
        check_index_url("ftp://index.invalid/simple", frozenset())


def test_origin_of_a_url_with_a_broken_port_leaves_the_port_out() -> None:
    from torchlock.index.urls import origin

    assert origin("https://User:pw@Mirror.Example:8443/simple") == "https://mirror.example:8443"
    assert origin("https://mirror.example:port/simple") == "https://mirror.example"


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1:99999/simple/", "Port out of range"),
        ("https://mirror.example:abc/simple/", "could not be cast"),
        ("http://[::1/simple/", "Invalid IPv6 URL"),
    ],
)
def test_malformed_index_urls_are_one_clear_error(url: str, why: str) -> None:
    with pytest.raises(PackageIndexError) as caught:
        check_index_url(url, frozenset())
    assert caught.value.message.startswith("malformed package index URL")
    assert why in str(caught.value)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        # a password with an unencoded "@": its tail must not show
        ("https://user:p@ss@host/simple", "https://user:***@host/simple"),
        # a password with an unencoded "/": none of it must show
        ("https://user:pa/ss@host/simple", "https://user:***@host/simple"),
        ("https://lonetoken@host/simple", "https://***@host/simple"),
        (
            "https://conda.anaconda.org/t/tk-1a2b3c/conda-forge",
            "https://conda.anaconda.org/t/***/conda-forge",
        ),
        ("https://host/simple?token=SECRET&x=1", "https://host/simple?token=***&x=1"),
        (
            "cannot fetch https://u:pw@h/simple/torch/: HTTP 404",
            "cannot fetch https://u:***@h/simple/torch/: HTTP 404",
        ),
        ("two: https://a:1@h/x, 'https://b:2@g/y'", "two: https://a:***@h/x, 'https://b:***@g/y'"),
        ("no URL here", "no URL here"),
    ],
)
def test_redaction_leaves_no_part_of_a_secret(text: str, shown: str) -> None:
    from torchlock.credentials import redact

    assert redact(text) == shown


def test_redaction_of_a_long_text() -> None:
    from torchlock.credentials import redact

    # the old pattern backtracked over a long run of scheme letters (3.4 s on 40 kB, so
    # minutes on this): each URL is now found from its "://" and read once
    text = "x" * 400_000 + "://" + "a" * 1000 + "@host"
    assert redact(text).endswith("://***@host")
