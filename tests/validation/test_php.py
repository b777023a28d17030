"""The nginx -> PHP-FPM -> MariaDB petition stack (tests/servers.py ``php_site``) serves, signs and waits on MariaDB.

Started as in the matrix, each part a plain process on 127.0.0.1: MariaDB from a data folder made
here, PHP-FPM with a static pool of 2 children, nginx passing every path to the petition page.
Checked: ``/healthz`` is answered by PHP without the database; a page reads the count; a POST of
/sign inserts the signature (read back from MariaDB itself); a page's time is spent inside
MariaDB (its SLEEP() seen in the process list while the page is in flight); and the static pool
holds at most its 2 children's pages in MariaDB at once, the rest waiting for a child.
"""

from __future__ import annotations

import subprocess
import threading
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from tests.servers import _PHP_DIR, mariadb_server, nginx_server, php_fpm
from tests.system import require

PAGE_S = 0.2  # constant: long against loopback and PHP (about 1 ms), short for the test
CHILDREN = 2


def _sql(port: int, query: str) -> list[list[str]]:
    client = require("/usr/bin/mariadb", "mariadb-client")
    done = subprocess.run([client, "--no-defaults", "-h", "127.0.0.1", "-P", str(port), "-u", "petition",
                           "-ppetition", "--batch", "--skip-column-names", "petition", "-e", query],
                          capture_output=True, text=True, timeout=10, check=True)
    return [line.split("\t") for line in done.stdout.splitlines()]


def _get(url: str) -> tuple[float, str]:
    t0 = time.perf_counter()
    with urllib.request.urlopen(url, timeout=10) as resp:
        return time.perf_counter() - t0, resp.read().decode()


def test_the_php_stack_serves_signs_and_waits_on_mariadb(tmp_path):
    with mariadb_server(tmp_path) as db_port, \
            php_fpm(tmp_path, children=CHILDREN, page=f"constant:{PAGE_S * 1000:g}", db_port=db_port) as fastcgi, \
            nginx_server(tmp_path, fastcgi_to=(fastcgi, str(_PHP_DIR / "index.php"))) as url:
        health_s, health = _get(url + "/healthz")
        page_s, page = _get(url + "/")
        form = urllib.parse.urlencode({"name": "A. Visitor", "email": "visitor@example.org", "zip": "10001"})
        with urllib.request.urlopen(url + "/sign", data=form.encode(), timeout=10) as resp:
            thanks = resp.read().decode()
        rows = _sql(db_port, "SELECT name, email, zip FROM signatures")
        after = _get(url + "/act")[1]

        # 3 rounds of the pool: 6 pages at once on 2 children; MariaDB's process list sampled meanwhile
        in_db, stop = [], threading.Event()

        def sample() -> None:
            while not stop.is_set():  # bounded: stopped when the pages are answered (at most 10 s each)
                in_db.append(int(_sql(db_port, "SELECT COUNT(*) FROM information_schema.PROCESSLIST "
                                                "WHERE INFO LIKE 'SELECT SLEEP%'")[0][0]))
                time.sleep(0.02)

        sampler = threading.Thread(target=sample)
        sampler.start()
        t0 = time.perf_counter()
        try:
            with ThreadPoolExecutor(max_workers=3 * CHILDREN) as pool:
                bodies = list(pool.map(lambda _: _get(url + "/")[1], range(3 * CHILDREN)))
        finally:
            stop.set()
            sampler.join(timeout=15)
        burst_s = time.perf_counter() - t0

    assert health == "ok\n" and health_s < PAGE_S  # PHP alone: no SLEEP()
    assert page_s >= PAGE_S and "0 have signed" in page
    assert "1 signatures" in thanks and "1 have signed" in after
    assert rows == [["A. Visitor", "visitor@example.org", "10001"]]
    assert all("1 have signed" in body for body in bodies)
    # the 6 pages took 3 rounds of the 2 children at least; never more than 2 in MariaDB at once, and 2 seen
    assert burst_s >= 3 * PAGE_S, burst_s
    assert max(in_db) == CHILDREN, in_db
