"""The house's rules, checked on the code itself: no import cycles, a pinned public API.

The layers between sim's subpackages are import-linter contracts in ``pyproject.toml``
(``lint-imports``, run by ``make test``); this file checks what those contracts do not
say: no cycle between any two modules, imports inside functions included.
"""

import grimp

import sim


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
