"""Shared helpers for the tests: write a scenario to a temporary file."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"


@pytest.fixture
def write_scenario(tmp_path):
    def write(text: str, name: str = "x.toml") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return write
