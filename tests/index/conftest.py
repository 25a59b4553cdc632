"""Fixtures of the HTTP stack's tests (transport and wire framing)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.fixture_index import FixtureIndex
from tests.support.index_server import IndexServer, serve
from torchlock.index.transport import Session


@pytest.fixture
def session() -> Iterator[Session]:
    """A session with short timeouts and no proxy from the environment."""
    with Session(connect_timeout=2.0, read_timeout=2.0, proxies={}) as made:
        yield made


@pytest.fixture
def https_server(index_tree: FixtureIndex) -> Iterator[IndexServer]:
    """A loopback https index (the throwaway CA of tests/fixtures/tls) with demo 1.0."""
    index_tree.add_wheel("simple", "demo", "1.0")
    index_tree.write()
    server = serve(index_tree.root, index_tree, tls=True)
    yield server
    server.stop()
