"""surge export: the command, and each file checked by its tool's own parser where npm has the tool.

- k6 (not on npm): ``node --check`` parses the script as an ES module, and TypeScript type-checks it
  against ``@types/k6`` (its ``options`` included).
- Gatling's JavaScript SDK: TypeScript type-checks the simulation against ``@gatling.io/core`` and
  ``@gatling.io/http`` (their own typings); ``node --check`` parses it.
- Artillery: the real ``artillery run`` plays a 6-second export against a loopback server this test
  starts; the server counts every arrival. Node is preloaded with a guard that refuses any connection
  off loopback and Artillery's telemetry client (Artillery 2.0.21 loads it even with
  ARTILLERY_DISABLE_TELEMETRY set).
- JMeter has no npm package (Debian's is 2.13, older than the Open Model Thread Group): its plan is read
  as XML and its schedule with JMeter's grammar in ``tests/loadtest/test_export.py``.

The npm packages install once into a cache folder (``$SURGE_NPM_CACHE``, else ``~/.cache/surge-tests``).
Without node and npm these tests fail: ``make test`` installs both.
"""

from __future__ import annotations

import collections
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import urllib.parse
from pathlib import Path

import pytest
import yaml

from sim.cli import main
from sim.config.scenario import load_scenario
from sim.loadtest.export import FORMATS
from sim.loadtest.schedule import LoadPlan
from tests.conftest import SCENARIOS
from tests.loadtest.test_export import artillery_arrivals
from tests.servers import loopback_server
from tests.system import require

ANCA = str(SCENARIOS / "anca-2020.toml")

# Pinned so that what was checked is known: Artillery 2.0.21 is the last that runs on Debian's Node 18.
NPM_PACKAGES = {"artillery": "2.0.21", "typescript": "5.9.3", "@types/k6": "2.3.0",
                "@gatling.io/core": "3.15.108", "@gatling.io/http": "3.15.108"}
NPM_INSTALL_TIMEOUT_S = 900

# Preloaded into Node (--require): no connection leaves loopback, and posthog-node (Artillery's telemetry,
# sent even with ARTILLERY_DISABLE_TELEMETRY in 2.0.21) fails to load, which Artillery takes as "no telemetry".
LOOPBACK_GUARD = r"""'use strict';
const Module = require('module');
const net = require('net');
const dns = require('dns');
const fs = require('fs');
const refused = new Set();
const loopback = (h) => h === 'localhost' || /^127\./.test(h) || h === '::1' || h === '[::1]';
const load = Module._load;
Module._load = function (request, ...rest) {
  if (request === 'posthog-node') throw new Error('telemetry refused by the loopback guard');
  return load.call(this, request, ...rest);
};
const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
  const first = Array.isArray(args[0]) ? args[0][0] : args[0];
  let host = null;
  if (first && typeof first === 'object') {
    host = first.path ? null : (first.host || 'localhost');
  } else if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
    host = typeof args[1] === 'string' ? args[1] : 'localhost';
  }
  if (host !== null && !loopback(host)) {
    refused.add(host);
    process.nextTick(() => this.destroy(new Error(`connection to ${host} refused by the loopback guard`)));
    return this;
  }
  return connect.apply(this, args);
};
const lookup = dns.lookup;
dns.lookup = function (hostname, ...rest) {
  if (!loopback(String(hostname))) {
    refused.add(String(hostname));
    const cb = rest[rest.length - 1];
    const err = Object.assign(new Error(`lookup of ${hostname} refused by the loopback guard`), { code: 'ENOTFOUND' });
    process.nextTick(() => cb(err));
    return {};
  }
  return lookup.call(this, hostname, ...rest);
};
process.on('exit', () => {
  if (refused.size) fs.writeSync(2, `loopback guard refused: ${[...refused].join(', ')}\n`);
});
"""


# -- the command --------------------------------------------------------------------------------------------

def _one_line_error(capsys, flag):
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert flag in err, err
    return err


@pytest.mark.parametrize("argv, flag", [
    (["--format", "locust"], "--format"),
    (["--format", "k6", "--time-scale", "0"], "--time-scale"),
    (["--format", "k6", "--time-scale", "-144"], "--time-scale"),
    (["--format", "k6", "--time-scale", "nan"], "--time-scale"),
    (["--format", "csv", "--scale", "0"], "--scale"),
    (["--format", "csv", "--scale", "-0.001"], "--scale"),
    (["--format", "csv", "--time-scale", "abc"], "--time-scale"),
    (["--format", "jmeter", "--max-stages", "1"], "--max-stages"),
    (["--format", "gatling", "--host", "127.0.0.1:8000"], "--host"),
    (["--format", "k6", "--max-concurrent-visitors", "0"], "--max-concurrent-visitors"),
    (["--format", "k6", "--match-peak", "--scale", "0.01"], "--match-peak"),
])
def test_a_bad_flag_is_one_line_and_exit_2(tmp_path, capsys, argv, flag):
    out = tmp_path / "plan.out"
    assert main(["export", ANCA, *argv, "--out", str(out)]) == 2
    _one_line_error(capsys, flag)
    assert not out.exists()


def test_an_unwritable_out_is_one_line_and_exit_2(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    assert main(["export", ANCA, "--format", "k6", "--out", str(tmp_path / "file" / "k6.js")]) == 2
    _one_line_error(capsys, "--out")


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_founding_case_exports_to_every_format(tmp_path, capsys, fmt):
    out = tmp_path / "deep" / f"anca.{fmt}"
    assert main(["export", ANCA, "--format", fmt, "--time-scale", "144", "--scale", "0.001", "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert "Traffic goes only to the host you give it" in text and "load factor 0.144" in text
    said = capsys.readouterr().out
    assert said.startswith(f"wrote {out}: ") and "load factor 0.144" in said and f"{out}" in said.splitlines()[1]
    assert not [p for p in out.parent.iterdir() if p.name != out.name]  # no temporary file left behind


# -- the tools ----------------------------------------------------------------------------------------------

def _cache_root() -> Path:
    base = os.environ.get("SURGE_NPM_CACHE")
    if base:
        return Path(base)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "surge-tests"


@pytest.fixture(scope="session")
def npm_tools():
    """The folder holding node_modules with NPM_PACKAGES, installed once (locked against a parallel session)."""
    node, npm = require("node", "nodejs"), require("npm", "npm")
    key = hashlib.sha256(json.dumps(NPM_PACKAGES, sort_keys=True).encode()).hexdigest()[:12]
    root = _cache_root() / f"npm-{key}"
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (root / ".installed").exists():
            (root / "package.json").write_text(json.dumps(
                {"name": "surge-export-checks", "version": "0.0.0", "private": True, "dependencies": NPM_PACKAGES}))
            try:  # --ignore-scripts: no install script runs (none of these needs one)
                done = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--ignore-scripts",
                                       "--loglevel=error"], cwd=root, capture_output=True, text=True,
                                      timeout=NPM_INSTALL_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                pytest.fail(f"npm install of {NPM_PACKAGES} took more than {NPM_INSTALL_TIMEOUT_S} s")
            if done.returncode != 0:
                pytest.fail(f"npm install failed ({done.returncode}): {done.stderr[-2000:]}")
            (root / ".installed").write_text(json.dumps(NPM_PACKAGES))
    (root / "loopback-guard.cjs").write_text(LOOPBACK_GUARD)
    return root


def _export(tmp_path, fmt, name, *extra):
    out = tmp_path / name
    assert main(["export", *extra, "--format", fmt, "--out", str(out)]) == 0
    return out


def _run(cmd, **kwargs):
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=kwargs.pop("timeout", 120), **kwargs)
    assert done.returncode == 0, f"{' '.join(map(str, cmd))} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done


def _tsc(npm_tools, folder, file, *types):
    """TypeScript's type check of a JavaScript file (checkJs, strict) against the installed typings."""
    link = folder / "node_modules"
    if not link.exists():
        link.symlink_to(npm_tools / "node_modules", target_is_directory=True)
    return _run([shutil.which("node"), str(npm_tools / "node_modules" / "typescript" / "bin" / "tsc"), "--noEmit",
                 "--allowJs", "--checkJs", "--strict", "--module", "esnext", "--moduleResolution", "node",
                 "--target", "es2020", "--lib", "es2020", "--types", ",".join(types), file.name], cwd=folder)


def test_k6_script_is_an_es_module_that_type_checks_against_k6s_typings(tmp_path, npm_tools):
    out = _export(tmp_path, "k6", "anca.k6.js", ANCA, "--time-scale", "144", "--scale", "0.001")
    mjs = tmp_path / "anca.k6.mjs"
    shutil.copy(out, mjs)
    _run([shutil.which("node"), "--check", str(mjs)])
    _tsc(npm_tools, tmp_path, out, "k6")
    # the check can fail: a wrong option type is found
    bad = tmp_path / "bad.k6.js"
    bad.write_text(out.read_text().replace("startRate: ", "startRate: 'x' + "))
    with pytest.raises(AssertionError, match="TS2322"):
        _tsc(npm_tools, tmp_path, bad, "k6")


def test_gatling_simulation_type_checks_against_the_gatling_js_sdk(tmp_path, npm_tools):
    out = _export(tmp_path, "gatling", "anca.gatling.js", ANCA, "--time-scale", "144", "--scale", "0.001")
    mjs = tmp_path / "anca.gatling.mjs"
    shutil.copy(out, mjs)
    _run([shutil.which("node"), "--check", str(mjs)])
    _tsc(npm_tools, tmp_path, out, "@gatling.io/jvm-types")
    bad = tmp_path / "bad.gatling.js"
    bad.write_text(out.read_text().replace(".during(25)", '.during("25 s")', 1))
    with pytest.raises(AssertionError, match="TS2345"):
        _tsc(npm_tools, tmp_path, bad, "@gatling.io/jvm-types")


# A 6-second surge: a baseline, then a post whose visitors come in a decaying wave, on paths of its own.
SHORT_SURGE = """
name = "short surge"
[run]
duration_s = 6
bin_s = 1
[traffic]
constant_per_s = 2.0
[[traffic.shares]]
name = "post"
at_s = 0.5
followers = 120
reach = 1
click_through = 1
decay = { kernel = "exponential", half_life_s = 4.0 }
[visitors]
pages_per_visit = 1.5
requests_per_page = 3
think_s = 0.02
action_rate = 0.3
[site.cdn]
hit_ratio = 0.5
[loadtest.site]
landing_path = "/landing"
page_paths = ["/more/a", "/more/b"]
asset_paths = ["/static/x.css", "/static/y.js"]
action_path = "/act"
submit_path = "/sign"
submit_fields = { name = "A. Visitor", email = "visitor@example.org" }
"""


def test_artillery_plays_the_export_against_a_loopback_server(tmp_path, npm_tools, write_scenario):
    scenario = write_scenario(SHORT_SURGE)
    seen: collections.Counter = collections.Counter()
    with loopback_server(seen=seen) as url:
        out = _export(tmp_path, "artillery", "short.yml", str(scenario), "--time-scale", "1", "--scale", "1",
                      "--host", url)
        script = yaml.safe_load(out.read_text())
        phases = script["config"]["phases"]
        assert script["config"]["target"] == url
        assert any("rampTo" in p for p in phases) and any("arrivalCount" in p for p in phases)
        env = {**os.environ, "ARTILLERY_DISABLE_TELEMETRY": "true", "NO_UPDATE_NOTIFIER": "1",
               "NODE_OPTIONS": f"--require {npm_tools / 'loopback-guard.cjs'}"}
        done = _run([shutil.which("node"), str(npm_tools / "node_modules" / "artillery" / "bin" / "run"), "run",
                     "--quiet", "--target", url, str(out)], cwd=tmp_path, env=env, timeout=90)
        assert "loopback guard refused" not in done.stderr, done.stderr
    per_path = collections.Counter()
    for (method, path, body, client), n in seen.items():
        assert client == "127.0.0.1"
        per_path[(method, path)] += n
        if method == "POST":
            assert urllib.parse.parse_qs(body) == {"name": ["A. Visitor"], "email": ["visitor@example.org"]}
    # every visitor Artillery's phases send arrived: ramps count each second's rate rounded, counts are counts
    # (Artillery's own arithmetic, written out in tests/loadtest/test_export.py from its phases.js)
    expected = sum(artillery_arrivals(p) for p in phases)
    assert per_path[("GET", "/landing")] == expected
    plan = LoadPlan(load_scenario(scenario), time_scale=1, scale=1)
    assert abs(expected - plan.expected_visitors()) <= 1  # the phases carry the plan's fractions along
    assert set(per_path) <= {("GET", "/landing"), ("GET", "/more/a"), ("GET", "/more/b"), ("GET", "/act"),
                             ("POST", "/sign"), ("GET", "/static/x.css"), ("GET", "/static/y.js")}
    assert per_path[("POST", "/sign")] == per_path[("GET", "/act")] > 0
    assert per_path[("GET", "/more/a")] >= per_path[("GET", "/more/b")]  # extra pages in turn
    assert per_path[("GET", "/static/x.css")] + per_path[("GET", "/static/y.js")] > 0


def test_artillery_refuses_a_script_it_cannot_run(tmp_path, npm_tools):
    """The check above can fail: Artillery validates a script before it sends anything."""
    bad = tmp_path / "bad.yml"
    bad.write_text('config:\n  target: "http://127.0.0.1:9"\n  phases:\n    - { duration: 1, arrivalCount: 1 }\n'
                   'scenarios:\n  - flow:\n      - { get: { url: "/" }, think: "1s" }\n')
    env = {**os.environ, "ARTILLERY_DISABLE_TELEMETRY": "true",
           "NODE_OPTIONS": f"--require {npm_tools / 'loopback-guard.cjs'}"}
    done = subprocess.run([shutil.which("node"), str(npm_tools / "node_modules" / "artillery" / "bin" / "run"), "run",
                           "--quiet", str(bad)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=90)
    assert done.returncode != 0 and "must have 1 key" in done.stdout + done.stderr, done.stdout + done.stderr
