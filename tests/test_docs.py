"""docs/scenario-format.md documents every scenario key, and no key that no longer exists."""

import re

from sim.config.scenario import Scenario
from sim.config.tables import field_doc_keys
from tests.conftest import ROOT


def _documented_keys() -> set[str]:
    text = (ROOT / "docs" / "scenario-format.md").read_text()
    return set(re.findall(r"^\| `([a-z_\[\].]+)` \|", text, flags=re.M))


def test_every_field_is_documented_and_no_stale_entries():
    fields = set(field_doc_keys(Scenario))
    documented = _documented_keys()
    assert fields - documented == set(), "fields missing from docs/scenario-format.md"
    assert documented - fields == set(), "docs/scenario-format.md documents keys that do not exist"


def test_readme_shows_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    assert "make run" in readme and "make test" in readme
