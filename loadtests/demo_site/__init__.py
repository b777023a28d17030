"""The bundled demo site: the default target of ``surge loadtest`` (``surge demo-site`` serves it).

A small advocacy website (landing page, two assets, an action page, a petition
stored in SQLite) that saturates the way a real one does: a fixed pool of
workers behind a bounded backlog, exponential service times, 503 when full.
It runs on waitress (a maintained, pure-Python, threaded WSGI server) with the
queueing discipline in the application, and uses no gevent monkey-patching, so it
can run in any process; run it in its own process (``surge demo-site``) when
locust, which patches the standard library, is loaded in the load-testing one.

The modules: ``config`` (the frozen configuration and the site's limits),
``server`` (``DemoSite``: start, stop, counters), ``transport`` (waitress adapted
to the limits: one request per connection, the descriptor limit, idle connections,
bounded logging), ``app`` (the WSGI application: /healthz, service time, real
work), ``gate`` (the FIFO gate of c slots and K places), ``pages`` (routes and
content) and ``store`` (the signatures in SQLite).

    with DemoSite(workers=2, service_ms=50, queue_limit=8) as site:
        ...  # send requests to site.url; then compare 2xx answers to site.signatures()
"""

from loadtests.demo_site.config import DemoSiteConfig, DemoSiteConfigError, is_loopback_host
from loadtests.demo_site.server import DemoSite

__all__ = ["DemoSite", "DemoSiteConfig", "DemoSiteConfigError", "is_loopback_host"]
