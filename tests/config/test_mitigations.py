"""site.cdn.landing_ttl_s and [site.signature_queue]: defaults, parsing and refusals."""

import math

import pytest

from sim.cli import main
from sim.config.distributions import Constant, Exponential, Lognormal
from sim.config.scenario import load_scenario

FLOW = "[run]\nduration_s = 600\n[traffic]\nconstant_per_s = 1\n"
APP = '[site.app]\npage_s = 0.1\nsubmit_s = { dist = "lognormal", median = 1.0, sigma = 0.5 }\n'


def test_defaults_keep_todays_site(write_scenario):
    sc = load_scenario(write_scenario(FLOW + "[site.cdn]\nhit_ratio = 0.9\n" + APP))
    assert sc.site.cdn.landing_ttl_s == 0.0 and sc.site.signature_queue is None


def test_a_landing_ttl_finite_or_inf(write_scenario):
    for text, value in (("10", 10.0), ("inf", math.inf), ("0", 0.0)):
        sc = load_scenario(write_scenario(FLOW + f"[site.cdn]\nhit_ratio = 0.9\nlanding_ttl_s = {text}\n"))
        assert sc.site.cdn.landing_ttl_s == value


def test_a_signature_queue_with_its_defaults(write_scenario):
    sc = load_scenario(write_scenario(FLOW + APP + "[site.signature_queue]\n"))
    sq = sc.site.signature_queue
    assert sq.ack_s == Constant(value=0.01) and sq.writers == 1 and sq.write_s is None
    # a writer does the work the submit did while the visitor waited
    assert sq.write_dist(sc.site.app) == Lognormal(median=1.0, sigma=0.5)


def test_a_signature_queue_given_in_full(write_scenario):
    sc = load_scenario(write_scenario(FLOW + APP + '[site.signature_queue]\nack_s = 0.02\nwriters = 3\n'
                                      'write_s = { dist = "exponential", mean = 0.4 }\n'))
    sq = sc.site.signature_queue
    assert sq.ack_s == Constant(value=0.02) and sq.writers == 3
    assert sq.write_dist(sc.site.app) == Exponential(mean_s=0.4)


BAD = [
    (FLOW + "[site.cdn]\nhit_ratio = 0.9\nlanding_ttl_s = -1\n",
     "site.cdn.landing_ttl_s: must be >= 0 (inf allowed), got -1.0"),
    (FLOW + '[site.cdn]\nhit_ratio = 0.9\nlanding_ttl_s = "short"\n',
     "site.cdn.landing_ttl_s: must be a number, got a string 'short'"),
    (FLOW + "[site.signature_queue]\n", "site.signature_queue: needs [site.app]"),
    (FLOW + APP + "[site.signature_queue]\nwriters = 0\n",
     "site.signature_queue.writers: must be a whole number >= 1, got 0"),
    (FLOW + APP + "[site.signature_queue]\nwriters = 2.5\n",
     "site.signature_queue.writers: must be a whole number, got float 2.5"),
    (FLOW + APP + "[site.signature_queue]\nwriters = 100000\n",
     "site.signature_queue.writers: must be <= 10000 (surge's limit, see docs/scenario-format.md#limits), got 100000"),
    (FLOW + APP + "[site.signature_queue]\nwrite_s = inf\n",
     "site.signature_queue.write_s: must have a finite mean"),
    (FLOW + APP + '[site.signature_queue]\nack_s = { dist = "exponential", mean = -1 }\n',
     "site.signature_queue.ack_s.mean: must be > 0"),
    (FLOW + APP + "[site.signature_queue]\nwriter = 2\n",
     "site.signature_queue.writer: unknown key (did you mean 'writers'?)"),
]


@pytest.mark.parametrize("text, message", BAD, ids=[m[:50] for _, m in BAD])
def test_bad_input_is_one_line_naming_file_key_and_value(text, message, write_scenario, capsys):
    path = write_scenario(text)
    assert main(["profile", str(path)]) == 2
    captured = capsys.readouterr()
    err = captured.err.rstrip("\n")
    assert captured.out == "" and "\n" not in err and "Traceback" not in err
    assert err.startswith(f"{path}: ") and message in err, err
