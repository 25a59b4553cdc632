"""Fixtures shared by every test directory."""

from tests.support.index_server import (  # noqa: F401  (fixtures, registered by import)
    _pypi_index_session,
    _pytorch_index_session,
    index_server,
    index_tree,
    pypi_index,
    pytorch_index,
)
