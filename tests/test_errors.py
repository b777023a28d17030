"""sim.errors: the one-line error and the URL check the commands share."""

import pytest

from sim.errors import ConfigError, check_url


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000", "https://example.org", "http://[::1]:8000/", "http://h/x"])
def test_good_urls_pass(url):
    check_url("--host", url)


@pytest.mark.parametrize("url, message", [
    ("127.0.0.1:8000", "must be a URL starting with http:// or https://"),
    ("http://127.0.0.1:abc", "must have a port that is a number in [1, 65535]"),
    ("http://127.0.0.1:0", "must have a port that is a number in [1, 65535]"),
    ("http://127.0.0.1:70000", "must have a port that is a number in [1, 65535]"),
    ("http://:8000", "must name a host"),
])
def test_bad_urls_are_refused_up_front_naming_the_flag_and_value(url, message):
    with pytest.raises(ConfigError) as info:
        check_url("--host", url)
    assert str(info.value) == f"--host: {message}" + str(info.value).split(message, 1)[1]
    assert str(info.value).endswith(f"got {url!r}")
