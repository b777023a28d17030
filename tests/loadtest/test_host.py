"""The one check of a load test's --host, shared by `surge loadtest` and every locust route."""

import pytest

from sim.errors import ConfigError
from sim.loadtest.host import check_host


@pytest.mark.parametrize("value, message", [
    (None, "--host: must be given: the site to test, e.g. http://127.0.0.1:8000"),
    ("", "--host: must be given: the site to test, e.g. http://127.0.0.1:8000"),
    ("127.0.0.1:8000", "--host: must be a URL starting with http:// or https://, got '127.0.0.1:8000'"),
    ("localhost:8000", "--host: must be a URL starting with http:// or https://, got 'localhost:8000'"),
    ("http://127.0.0.1:abc", "--host: must have a port that is a number in [1, 65535], got 'http://127.0.0.1:abc'"),
    ("http://:8000", "--host: must name a host, e.g. http://127.0.0.1:8000, got 'http://:8000'"),
    ("http://u:p@127.0.0.1:8000", "--host: must not hold a user or password (the load test sends none), "
                                  "got 'http://u:p@127.0.0.1:8000'"),
    ("http://127.0.0.1:8000/?a=1", "--host: must not hold a query or fragment"),
    ("http://127.0.0.1:8000/#top", "--host: must not hold a query or fragment"),
    ("http://staging site:8000", "--host: must name a host by IP address or DNS name"),
    ("http://-staging.org", "--host: must name a host by IP address or DNS name"),
    ("http://pétition.org", "--host: must name a host by IP address or DNS name"),
])
def test_a_host_the_load_test_cannot_send_to_as_written_is_refused_in_one_line(value, message):
    with pytest.raises(ConfigError) as err:
        check_host(value)
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_the_flag_is_named_as_the_route_names_it():
    with pytest.raises(ConfigError, match="^Host: must be a URL"):
        check_host("127.0.0.1:8000", flag="Host")


@pytest.mark.parametrize("value, base", [
    ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
    ("http://127.0.0.1:8000/", "http://127.0.0.1:8000"),
    ("https://Staging.Example.org", "https://Staging.Example.org"),
    ("http://[::1]:8080/campaign/", "http://[::1]:8080/campaign"),
    ("http://db_proxy:80/a/b", "http://db_proxy:80/a/b"),
])
def test_what_is_let_through_is_where_the_load_goes(value, base):
    assert check_host(value) == base
