"""The house's rules, checked on the code itself: no import cycles, a pinned public API.

The layers between sim's subpackages are import-linter contracts in ``pyproject.toml``
(``lint-imports``, run by ``make test``); this file checks what those contracts do not
say: no cycle between any two modules, imports inside functions included; and that the
files docs/architecture.md's walk-throughs name exist.
"""

import re
from pathlib import Path

import grimp

import sim
from tests.conftest import ROOT


def _cycles(graph, modules):
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index, low, on_stack, stack, out, counter = {}, {}, set(), [], [], [0]
    for root in sorted(modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root) & modules)))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter[0]
                    counter[0] += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child) & modules))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        m = stack.pop()
                        on_stack.discard(m)
                        component.append(m)
                        if m == node:
                            break
                    if len(component) > 1:
                        out.append(sorted(component))
    return out


def test_no_import_cycles_between_modules():
    graph = grimp.build_graph("sim", "loadtests")
    modules = {m for m in graph.modules if m.split(".")[0] in ("sim", "loadtests")}
    assert len(modules) > 60
    # A package's __init__ importing its own submodules is not a cycle unless a submodule imports it back.
    assert _cycles(graph, modules) == []


def test_the_cycle_finder_finds_a_cycle():
    """The check above can fail: a graph with a -> b -> c -> a and d -> a."""
    graph = grimp.ImportGraph()
    for a, b in (("p.a", "p.b"), ("p.b", "p.c"), ("p.c", "p.a"), ("p.d", "p.a")):
        graph.add_import(importer=a, imported=b)
    assert _cycles(graph, set(graph.modules)) == [["p.a", "p.b", "p.c"]]


def test_public_api_is_pinned():
    assert sorted(sim.__all__) == sorted([
        "ConfigError", "NotModelled", "RunResult", "Scenario", "ENGINES",
        "load_scenario", "parse_scenario", "build_profile", "simulate", "simulate_replications",
        "summarize", "timeseries", "sweep", "SweepPoint",
    ])
    for name in sim.__all__:
        assert getattr(sim, name) is not None


# -- docs/architecture.md's walk-throughs name files that exist ----------------------------------------------

ADDITIONS = ("A read replica for the database", "A new SLO term", "A new export format")
_PATH = re.compile(r"[\w.<>-]+(?:/[\w.<>-]*)+|[\w-]+\.(?:md|py|toml|txt|cfg|js)")


def _section(text: str, heading: str) -> str:
    """The text under ``## heading`` up to the next heading of that level."""
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end >= 0 else len(text)]


def named_paths(text: str) -> list[str]:
    """Every path a text names in backticks: ``sim/x.py``, ``docs/y.md``, ``README.md`` (text after a space, a
    colon or a parenthesis is code or a command, not a path)."""
    return [t for t in re.findall(r"`([^`\n]+)`", text) if _PATH.fullmatch(t) and not t.startswith("/")]


def missing_paths(text: str, root: Path) -> list[str]:
    """The named paths that do not exist under ``root``; a file to create (a ``<placeholder>`` in its name)
    needs its folder."""
    out = []
    for path in named_paths(text):
        parts = path.rstrip("/").split("/")
        fixed = parts[:next((i for i, p in enumerate(parts) if "<" in p), len(parts))]
        if not (root.joinpath(*fixed) if fixed else root).exists():
            out.append(path)
    return out


def test_every_path_the_three_additions_name_exists():
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    section = _section(text, "Three additions, end to end")
    assert [h for h in ADDITIONS if f"\n### {h}\n" not in section] == []
    assert missing_paths(section, ROOT) == []
    # each walk-through names files (the export format's alone: its renderer, registry, command, docs and tests)
    export = section[section.index("### A new export format"):]
    assert {"sim/loadtest/export/<format>.py", "sim/loadtest/export/__init__.py", "sim/cli/export.py",
            "docs/export.md", "tests/loadtest/test_export.py", "tests/cli/test_export.py"} <= set(named_paths(export))


def test_a_path_that_is_not_there_is_found(tmp_path):
    (tmp_path / "sim").mkdir()
    (tmp_path / "sim" / "a.py").write_text("")
    text = ("`sim/a.py`, `sim/b.py`, `sim/<new>.py`, `nope/<new>.py`, `README.md`, `--flag`, `f(x, y)`, "
            "`git show --stat`, `lost_actions<1%`")
    assert named_paths(text) == ["sim/a.py", "sim/b.py", "sim/<new>.py", "nope/<new>.py", "README.md"]
    assert missing_paths(text, tmp_path) == ["sim/b.py", "nope/<new>.py", "README.md"]
