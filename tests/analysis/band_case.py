"""A calibrated site and a steady scenario that includes it: the prediction band's test case
(tests/analysis/test_band.py, tests/cli/test_run_band.py, tests/cli/test_compare.py)."""

import math

from sim.config.scenario import load_scenario

__all__ = ["WORKERS", "CAPACITY", "LOW", "HIGH", "SITE", "SCENARIO", "calibrated"]

# A calibrated site as surge calibrate writes it (the gunicorn case: 3 workers, 46.7/s with a
# 95 % interval of 43.2 to 50.1): the page law's mean is workers / capacity_per_s = 64.24 ms.
WORKERS, CAPACITY, LOW, HIGH = 3, 46.7, 43.2, 50.1
SITE = f"""[site.app]
instances = 1
workers = {WORKERS}
queue_limit = 64
page_s = {{ dist = "lognormal", median = {WORKERS / CAPACITY / math.exp(0.5 ** 2 / 2):.6g}, sigma = 0.5 }}
[site.calibration]
capacity_per_s = {CAPACITY}
capacity_low_per_s = {LOW}
capacity_high_per_s = {HIGH}
precision = {(HIGH - LOW) / 2 / CAPACITY:.4g}
"""
# 35 visitors a second, a tenth of them submitting the form (a submit takes the page law): 38.5 pages
# a second, 0.82x of the point capacity, 0.89x of the slow end's.
SCENARIO = """include = "site.toml"
name = "calibrated"
[run]
duration_s = 300
warmup_s = 30
seed = 5
bin_s = 30
[traffic]
constant_per_s = 35
[visitors]
pages_per_visit = 1
requests_per_page = 1
action_rate = 0.1
"""


def calibrated(tmp_path, site: str = SITE):
    (tmp_path / "site.toml").write_text(site)
    (tmp_path / "s.toml").write_text(SCENARIO)
    return load_scenario(tmp_path / "s.toml")
