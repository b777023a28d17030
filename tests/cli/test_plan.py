"""surge plan refuses, in one line and at once, a peak it cannot size (it used to search for minutes)."""

import time

from sim.cli import main


def test_a_peak_beyond_what_the_plan_sizes_is_one_line_at_once(tmp_path, capsys):
    path = tmp_path / "big.toml"
    # 10 visitors/s of a lognormal whose mean is about 1e195 s: an offered load no Erlang C search can reach
    path.write_text("[run]\nduration_s = 600\n[traffic]\nconstant_per_s = 10\n"
                    '[site.app]\npage_s = { dist = "lognormal", median = 1, sigma = 30 }\n')
    started = time.perf_counter()
    assert main(["plan", str(path)]) == 2
    assert time.perf_counter() - started < 5
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"{path}: traffic: the peak (10 visitors/s) keeps 2.707e+196 app workers busy on average, "
                          "more than the 1e+06 surge plan sizes")


def test_followers_beyond_people_on_earth_are_refused_not_planned_for_minutes(tmp_path, capsys):
    path = tmp_path / "f.toml"
    path.write_text("[[traffic.shares]]\nat_s = 0\nfollowers = 1e15\nreach = 0.5\nclick_through = 0.1\n"
                    'decay = { kernel = "exponential", half_life_s = 600 }\n[site.app]\npage_s = 0.1\n')
    started = time.perf_counter()
    assert main(["plan", str(path)]) == 2
    assert time.perf_counter() - started < 5
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"{path}: traffic.shares[0].followers: must be <= 1e+10")
    # at the limit the plan answers within a second
    path.write_text(path.read_text().replace("1e15", "1e10"))
    started = time.perf_counter()
    assert main(["plan", str(path)]) == 0
    assert time.perf_counter() - started < 5


def test_the_plan_names_the_slo_terms_and_sections_it_does_not_size_for(tmp_path, capsys):
    path = tmp_path / "scaled.toml"
    path.write_text("[run]\nduration_s = 600\n[traffic]\nconstant_per_s = 10\n"
                    "[site.app]\ninstances = 2\nworkers = 2\npage_s = 0.05\n"
                    "[site.autoscale]\ntarget = 0.6\nmax = 4\n"
                    "[site.waiting_room]\nactive_limit = 100\nsession_s = 60\n")
    assert main(["plan", str(path), "--slo", "p95<2s,lost_actions<1%"]) == 0
    out = capsys.readouterr().out
    rows = {line[:28].strip(): line[28:].strip() for line in out.splitlines()}
    assert rows["not sized for (SLO)"].startswith("lost_actions<1%: the plan sizes p50, p95")
    assert rows["not in the plan (scenario)"].startswith("[site.autoscale], [site.waiting_room]: ")
    # the peak's demand over the workers' capacity, named as the ratio it is (10/s x 0.05 s = 0.5 busy of 4)
    assert rows["app workers now"] == "4 (2 instances x 2): the peak offers 0.125x the work they can do (demand / capacity)"
    # why pre-scaling's count is not the plan's (1 instance keeps up; pre-scaling takes twice the site's)
    assert rows["other counts of instances"].startswith("pre-scale and autoscale size 4 (twice the site's 2; 1 would run")
