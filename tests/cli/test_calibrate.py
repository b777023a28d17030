"""surge calibrate's flags and --out: checked before the first request is sent."""

import pytest

from sim.cli import main


@pytest.mark.parametrize("rate", ["inf", "nan", "0", "1e9"])
def test_a_max_rate_beyond_the_limit_is_one_line(rate, tmp_path, capsys):
    assert main(["calibrate", "--host", "http://127.0.0.1:9", "--max-rate", rate, "--out",
                 str(tmp_path / "site.toml")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("--max-rate: must be > 0 and <= 10000 requests/s") and f"got {float(rate)}" in err


def test_an_out_that_cannot_be_written_is_found_before_any_load(tmp_path, capsys):
    (tmp_path / "taken").write_text("")
    out = tmp_path / "taken" / "site.toml"
    assert main(["calibrate", "--host", "http://127.0.0.1:9", "--out", str(out)]) == 2  # port 9: nothing is sent
    assert capsys.readouterr().err == f"--out: cannot write to {out} ({tmp_path / 'taken'}): it is a file, not a folder\n"
    assert main(["calibrate", "--host", "http://127.0.0.1:9", "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"--out: cannot write to {tmp_path}: it is a folder, not a file\n"


def test_a_ping_path_must_be_a_path(tmp_path, capsys):
    from tests.servers import loopback_server

    with loopback_server() as url:
        code = main(["calibrate", "--host", url, "--ping-path", "healthz", "--out", str(tmp_path / "s.toml")])
    assert code == 2
    assert capsys.readouterr().err.strip() == "--ping-path: must be a path starting with '/', got 'healthz'"


@pytest.mark.slow
def test_a_site_that_never_saturates_is_said_and_strict_fails(tmp_path, capsys):
    """The demo site holds 8 workers / 5 ms = 1,600 pages/s; --max-rate 100 never comes near it."""
    from tests.servers import demo_site

    out = tmp_path / "site.toml"
    with demo_site(workers=8, service_ms=5, queue_limit=16) as url:
        code = main(["calibrate", "--host", url, "--max-rate", "100", "--duration-s", "30", "--strict",
                     "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 5
    assert "surge: warning: the site never saturated up to 100 requests/s" in err
    text = out.read_text()  # written all the same, the warning in it
    assert "# WARNING: the site never saturated" in text and "NOT saturated" in text
    import tomllib
    assert tomllib.loads(text)["site"]["app"]["workers"] >= 1
