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


def test_readme_python_example_runs():
    """The README's "Use surge from Python" example, as written, in a fresh interpreter at the repo root."""
    import re
    import subprocess
    import sys

    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Use surge from Python", 1)[1].split("\n## ", 1)[0]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    # steady.toml: 9 visitors/s for 3,600 s; 10 workers at rho = 0.9 on the fast engine, nobody lost
    assert lines[0] == "32,400 visitors expected"
    engine, mean_wait, lost = lines[1].split()
    assert engine == "fast" and 0 < float(mean_wait) < 5 and float(lost) == 0.0
    # Erlang C: the wait's p95 is about 1.0 s with 11 workers and 0.45 s with 12, far from 0.7 s either way
    assert lines[2] == "workers needed: 12"
