"""Shared test setup: no test may read or write the user's real trained-brightness table or profiles."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _private_data_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path_factory.mktemp("flatseq-data")
    monkeypatch.setenv("FLATSEQ_DATA_DIR", str(data))
    return data


@pytest.fixture(autouse=True)
def _private_config_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Nor the user's equipment profiles (`flatseq profile`)."""
    config = tmp_path_factory.mktemp("flatseq-config")
    monkeypatch.setenv("FLATSEQ_CONFIG_DIR", str(config))
    return config
