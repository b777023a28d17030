"""The validation matrix's servers: each a real stack started on loopback, with its true workers and mean page time."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from tests.validation.petition_app import parse_law

__all__ = ["Stack", "STACKS", "PHP_STACK"]


@dataclass(frozen=True, kw_only=True)
class Stack:
    name: str
    kind: str  # demo, gunicorn, waitress, nginx-gunicorn, nginx-php-mariadb
    workers: int
    page: str = ""  # the petition page's law (PETITION_PAGE); the demo site's is exponential
    service_ms: float = 20.0  # the demo site's mean
    queue_limit: int = 32  # the demo site's backlog; nginx's limit_conn is workers + queue_limit

    @staticmethod
    def times_folder(tmp_path):
        return tmp_path / "worker-times"

    @property
    def mean_s(self) -> float:
        return self.service_ms / 1000 if self.kind == "demo" else parse_law(self.page).mean_s

    @contextlib.contextmanager
    def start(self, tmp_path):
        """The stack on 127.0.0.1, its URL yielded; its workers log each request's time in them to
        ``times_folder(tmp_path)`` (tests/validation/cycle.py reads it)."""
        from tests.servers import demo_site, gunicorn_site, nginx_server, php_site, waitress_site

        times = self.times_folder(tmp_path)
        times.mkdir(parents=True, exist_ok=True)
        if self.kind == "demo":
            with demo_site(workers=self.workers, service_ms=self.service_ms, queue_limit=self.queue_limit,
                           times_log=times / "demo.txt") as url:
                yield url
        elif self.kind == "gunicorn":
            with gunicorn_site(tmp_path, workers=self.workers, page=self.page, times=times) as url:
                yield url
        elif self.kind == "nginx-php-mariadb":  # pm.max_children = workers; the page law spent in MariaDB
            with php_site(tmp_path, children=self.workers, page=self.page, times=times) as url:
                yield url
        elif self.kind == "waitress":
            with waitress_site(tmp_path, threads=self.workers, page=self.page, times=times) as url:
                yield url
        else:
            with gunicorn_site(tmp_path, workers=self.workers, page=self.page, times=times) as app, \
                    nginx_server(tmp_path, proxy_to=app, limit_conn=self.workers + self.queue_limit) as url:
                yield url


# nginx -> PHP-FPM -> MariaDB, the stack advocacy sites run: the page's time spent in MariaDB (a SLEEP() of the law
# in the query that reads the count); each child logs its requests' times, and the pool's access log them too.
PHP_STACK = Stack(name="nginx -> PHP-FPM static x4 -> MariaDB, lognormal median 60 ms sigma 0.3 in SLEEP()",
                  kind="nginx-php-mariadb", workers=4, page="lognormal:60:0.3")

STACKS = (
    Stack(name="demo site (waitress, exponential 20 ms, backlog 32 -> 503)", kind="demo", workers=4),
    Stack(name="gunicorn sync x2, near-constant 25 ms", kind="gunicorn", workers=2, page="constant:25"),
    Stack(name="gunicorn sync x3, lognormal median 20 ms sigma 0.3", kind="gunicorn", workers=3,
          page="lognormal:20:0.3"),
    Stack(name="gunicorn sync x4, bimodal cache 70 % hits 5 ms / misses 60 ms", kind="gunicorn", workers=4,
          page="bimodal:0.7:5:60"),
    Stack(name="waitress threads x4, keep-alive, near-constant 25 ms", kind="waitress", workers=4,
          page="constant:25"),
    Stack(name="nginx (limit_conn 3+8 -> 503) in front of gunicorn sync x3, lognormal 20 ms", kind="nginx-gunicorn",
          workers=3, page="lognormal:20:0.3", queue_limit=8),
    PHP_STACK,
)
