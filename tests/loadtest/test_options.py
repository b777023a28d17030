"""The load test's options, declared once: ``surge loadtest``'s flags, the locust file's flags and the
options object agree on every name, default and type, and a bad value names its flag."""

from __future__ import annotations

import argparse
import dataclasses
import re
from pathlib import Path

import pytest

from sim.cli.loadtest import options_of
from sim.cli.main import build_parser
from sim.errors import ConfigError
from sim.loadtest.options import OPTIONS, LoadTestOptions, add_locust_arguments
from tests.conftest import SCENARIOS

STEADY = str(SCENARIOS / "steady.toml")


def _locust_parse(argv: list[str]) -> argparse.Namespace:
    """The locust file's surge flags, as it declares them (locust itself is not imported here: it patches
    the process with gevent)."""
    parser = argparse.ArgumentParser()
    add_locust_arguments(parser.add_argument_group("surge"))
    return parser.parse_args(argv)


def test_one_declaration_serves_the_options_both_parsers_and_the_web_ui():
    fields = [f.name for f in dataclasses.fields(LoadTestOptions)]
    assert [o.name for o in OPTIONS] == fields and len(fields) == 12
    # the locust file alone, no flag given: the options' own defaults
    assert LoadTestOptions.from_namespace(_locust_parse([])) == LoadTestOptions()
    # surge loadtest, no flag given: the same defaults, the scenario resolved for the child process
    args = build_parser().parse_args(["loadtest", STEADY])
    assert options_of(args) == dataclasses.replace(LoadTestOptions(), scenario=str(Path(STEADY).resolve()))


@pytest.mark.parametrize("options", [
    LoadTestOptions(),
    LoadTestOptions(scenario=STEADY, time_scale=100.0, scale=0.05, duration_s=6.5, slo="p95<2s,errors<1%",
                    out="/tmp/x", assets="none", max_concurrent_visitors=7, request_timeout_s=2.5, seed=0,
                    abort_on_error_rate=0.5, abort_after_s=3.0),
])
def test_surge_hands_the_options_to_the_locust_file_unchanged(options):
    assert LoadTestOptions.from_namespace(_locust_parse(options.to_argv())) == options


def test_the_surge_flags_are_the_declared_ones_with_the_declared_defaults():
    args = build_parser().parse_args(["loadtest", STEADY, "--time-scale", "50", "--seed", "3", "--duration-s", "9",
                                      "--max-concurrent-visitors", "12", "--slo", "errors<5%"])
    options = options_of(args)
    assert (options.time_scale, options.seed, options.duration_s, options.max_concurrent_visitors,
            options.slo) == (50.0, 3, 9.0, 12, "errors<5%")
    assert (options.scale, options.request_timeout_s, options.assets) == (0.001, 30.0, "misses")  # defaults
    # a value that means "not given" means it on both routes: the scenario's seed, the whole scenario
    args = build_parser().parse_args(["loadtest", STEADY, "--seed", "-1", "--duration-s", "0"])
    assert (options_of(args).seed, options_of(args).duration_s) == (None, None)


def test_a_bad_value_names_its_flag():
    with pytest.raises(ConfigError, match=r"^--abort-on-error-rate: must be within \[0, 1\], got 2"):
        LoadTestOptions(abort_on_error_rate=2.0)
    with pytest.raises(ConfigError, match=r"^--slo: unknown metric 'p96'"):
        LoadTestOptions(slo="p96<2s")
    # the web UI's form gives text: converted to the field's type, or refused naming the flag
    form = argparse.Namespace(**{**LoadTestOptions.defaults(), "max_concurrent_visitors": "12", "seed": "-1"})
    assert LoadTestOptions.from_namespace(form).max_concurrent_visitors == 12
    assert LoadTestOptions.from_namespace(form).seed is None  # -1: the scenario's run.seed
    form.max_concurrent_visitors = "many"
    with pytest.raises(ConfigError, match="^--max-concurrent-visitors: must be a whole number, got 'many'"):
        LoadTestOptions.from_namespace(form)


def test_the_web_ui_labels_say_what_each_option_is_in_its_unit():
    for option in OPTIONS:
        # locust's own label is the field's name in title case ("Duration S"): never what surge shows
        locust_label = re.sub(r"_(.)", lambda m: " " + m.group(1).upper(), option.name.capitalize())
        assert option.label != locust_label and option.web_label.startswith(option.label), option
        if option.name.endswith("_s"):
            assert re.search(r"\((wall )?s\)", option.label), option.label  # the unit, in seconds
