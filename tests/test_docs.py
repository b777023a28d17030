"""docs/scenario-format.md documents every scenario key and no key that no longer exists; the README's Python
example and what it says of the engines."""

import re
import subprocess
import sys

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


def _python_section() -> str:
    return (ROOT / "README.md").read_text().split("## Use surge from Python", 1)[1].split("\n## ", 1)[0]


def test_readme_python_example_runs_and_prints_what_the_readme_shows():
    """The README's "Use surge from Python" example, as written, in a fresh interpreter at the repo root."""
    section = _python_section()
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    shown = re.search(r"It prints:\n\n```\n(.*?)```", section, re.S).group(1)
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout == shown  # the README's printed block is what the example prints
    assert done.stdout.splitlines() == [
        "32,400 visitors expected",  # steady.toml: 9 visitors/s for 3,600 s
        # 10 workers at rho = 0.9 (Erlang C: a mean wait of 0.67 s), seed 3; nobody lost: the backlog is unbounded
        "fast engine: mean wait 0.64 s, 0.0% of visitors lost",
        # Erlang C: the wait's p95 is about 1.0 s with 11 workers and 0.45 s with 12, far from 0.7 s either way
        "workers needed: 12",
    ]


# Every part of a scenario the fast engine could refuse, in one small scenario: an autoscaler with a schedule,
# a waiting room, a signature queue and a landing page cached by the CDN.
EVERY_PART = {
    "run": {"duration_s": 600.0, "seed": 5, "bin_s": 60},
    "traffic": {"constant_per_s": 6.0},
    "visitors": {"pages_per_visit": 2, "requests_per_page": 3, "action_rate": 0.3},
    "site": {
        "cdn": {"hit_ratio": 0.9, "landing_ttl_s": 10},
        "app": {"instances": 1, "workers": 2, "page_s": {"dist": "exponential", "mean": 0.3}, "submit_s": 0.5},
        "autoscale": {"target": 0.6, "warmup_s": 30, "max": 3, "schedule": [{"at_s": 200, "min": 2}]},
        "waiting_room": {"active_limit": 40, "session_s": 60},
        "signature_queue": {"writers": 1},
    },
}


def test_readme_both_engines_model_every_part_and_fast_gives_the_references_results():
    """README "Use surge from Python": both engines model every part, so engine="fast" runs any scenario with the
    reference's results and engine="auto" always takes it; NotModelled is a ConfigError.

    That engine="fast" would raise NotModelled naming the key of a part it did not model, and that "auto" would then
    take the reference, is tests/engine/test_dispatch.py::test_a_refusal_is_typed_and_carries_the_key."""
    import json

    import sim
    import sim.engine.fast
    from sim.config.scenario import parse_scenario

    section = " ".join(_python_section().split())
    assert "Both engines model every part of a scenario" in section and "`sim.NotModelled` (a `sim.ConfigError`)" \
        in section
    assert sim.engine.fast.NOT_MODELLED == () and issubclass(sim.NotModelled, sim.ConfigError)
    scenario = parse_scenario(EVERY_PART, path="every-part.toml")
    fast, reference, auto = (sim.simulate(scenario, engine=e) for e in ("fast", "reference", "auto"))
    assert (fast.engine, reference.engine, auto.engine) == ("fast", "reference", "fast")
    figures = [json.dumps(sim.summarize(r), sort_keys=True, default=str).replace('"engine": "reference"',
                                                                              '"engine": "fast"')
               for r in (fast, reference)]
    assert figures[0] == figures[1]
    summary = sim.summarize(fast)
    # the parts ran: instances beyond the one, visitors through the room, submits through the queue
    assert summary["instances"]["max"] >= 2 and summary["peak_queue"]["waiting_room"] > 0
    assert summary["signatures"]["written"] > 0 and summary["requests"]["cdn_hits"] > 0
