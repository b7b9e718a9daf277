"""Each module of the suite records its figures (kills survived, writers, examples, bad inputs) in FIGURES;
they are merged into one file when the module is done (docs/reliability.md quotes them)."""

from __future__ import annotations

import typing as t

import pytest

from ansible_collections.dockermac.hostbridge.tests.reliability._helpers import save_figures


@pytest.fixture(scope="module", autouse=True)
def _figures() -> t.Iterator[None]:
    yield
    save_figures()
