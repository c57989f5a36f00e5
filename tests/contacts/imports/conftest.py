from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "imports"


@pytest.fixture(scope="session")
def generated(tmp_path_factory):
    """The binary samples (Excel, UTF-16, cp1252), written by tests/fixtures/imports/make_fixtures.py."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_fixtures", FIXTURES / "make_fixtures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build(tmp_path_factory.mktemp("import-samples"))


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


def fixture(name: str) -> Path:
    return FIXTURES / name
