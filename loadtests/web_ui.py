"""The surge options and the Surge tab in locust's web UI.

* the options in the order :data:`sim.loadtest.options.OPTIONS` gives, unfolded, each labelled with its
  declared label and unit (locust labels a custom option by its flag's name, "Duration S": a small script
  puts the declared label in its place), a test asked for with options or a Host the load test cannot run
  refused with the reason;
* a "Surge" tab: every 5 s, the target and achieved visitor arrivals per second, the visitors planned so
  far and in the whole plan, arrived and dropped, and the generator's lag p99 (locust's charts are fixed
  and take no extra line; a visitor is several requests, so the RPS chart is not the arrival rate).

By locust's own extension points: ``extended_tabs``/``extended_tables`` in the page, ``extended_stats`` in
/stats/requests, and Flask's request hooks.
"""

from __future__ import annotations

import argparse
import json
import logging
import re

from loadtests.session import of
from sim.errors import ConfigError
from sim.loadtest.host import check_host
from sim.loadtest.options import OPTIONS, PLAN_FIELDS, LoadTestOptions

__all__ = ["SURGE_TAB", "install", "web_ui_labels"]

log = logging.getLogger("surge")

SURGE_TAB = [
    {"key": "elapsed", "title": "Elapsed (m:ss)"},
    {"key": "target_rate", "title": "Target arrivals/s"},
    {"key": "achieved_rate", "title": "Achieved arrivals/s"},
    {"key": "planned", "title": "Visitors planned so far"},
    {"key": "planned_total", "title": "Visitors in the whole plan"},
    {"key": "arrived", "title": "Arrived"},
    {"key": "dropped", "title": "Dropped"},
    {"key": "lag_p99_ms", "title": "Lag p99 (ms)"},
]


def web_ui_labels() -> dict[str, str]:
    """Each option's label in the web UI, by the name locust's page gives its field (camelCase)."""
    return {re.sub(r"_([a-z0-9])", lambda m: m.group(1).upper(), o.name): o.web_label for o in OPTIONS}


# Locust's "Custom parameters" section starts folded, and labels each field by its name: unfold it once,
# and put the declared label on each field (again whenever the page redraws it).
_SCRIPT = """<script>(function () {
  var labels = %s, left = 100, timer = setInterval(function () {
    var buttons = document.querySelectorAll('[aria-expanded="false"]');
    for (var i = 0; i < buttons.length; i++) {
      if (buttons[i].textContent.trim() === "Custom parameters") { buttons[i].click(); clearInterval(timer); return; }
    }
    if (--left <= 0) clearInterval(timer);
  }, 100);
  function relabel() {
    for (var name in labels) {
      var fields = document.querySelectorAll('[name="' + name + '"]');
      for (var i = 0; i < fields.length; i++) {
        var box = fields[i].closest(".MuiFormControl-root");
        if (!box) continue;
        var texts = box.querySelectorAll("label, legend span");
        for (var j = 0; j < texts.length; j++) {
          if (texts[j].textContent !== labels[name]) texts[j].textContent = labels[name];
        }
      }
    }
  }
  new MutationObserver(relabel).observe(document.body, {childList: true, subtree: true, characterData: true});
  relabel();
})();</script>"""


def install(environment) -> None:
    """The surge options in the declared order (not sorted), unfolded and labelled, and the Surge tab."""
    from flask import jsonify, request

    web_ui = environment.web_ui
    # The page's options in the declared order, not sorted: Jinja's tojson sorts keys unless told otherwise,
    # as Flask's JSON does.
    web_ui.app.jinja_env.policies["json.dumps_kwargs"] = {"sort_keys": False}
    web_ui.app.json.sort_keys = False
    web_ui.template_args["extended_tabs"] = [{"title": "Surge", "key": "surge"}]
    web_ui.template_args["extended_tables"] = [{"key": "surge", "structure": SURGE_TAB}]
    script = (_SCRIPT % json.dumps(web_ui_labels())).encode()

    @web_ui.app.before_request
    def _refuse_a_test_that_cannot_run():
        """A test asked for with options or a Host the load test cannot run is refused, and says why."""
        if request.endpoint != "locust.swarm" or request.method != "POST":
            return None
        try:
            options = form_options(environment.parsed_options, request.form)
            host = check_host(request.form.get("host", environment.host), flag="Host")
            of(environment).check_owner(host, options, flag="Host")
        except ConfigError as err:
            log.error("surge: test not started: %s", err)
            return jsonify({"success": False, "message": str(err), "host": environment.host})
        return None

    @web_ui.app.after_request
    def _surge(response):
        if response.status_code != 200:
            return response
        if request.endpoint == "locust.request_stats" and response.is_json:  # also under --web-base-path
            data = response.get_json()
            data["extended_stats"] = [{"key": "surge", "data": list(of(environment).test.history)}]
            response.set_data(json.dumps(data))
        elif request.endpoint == "locust.index" and response.mimetype == "text/html":
            response.direct_passthrough = False
            response.set_data(response.get_data().replace(b"</body>", script + b"</body>", 1))
        return response


def form_options(parsed_options, form) -> LoadTestOptions:
    """The options a test started from the web UI will run with: the form's values over the command line's,
    converted as locust converts them (to the type of the value they replace). A plan option that does not
    convert is left to the shape, which says why as the test starts; any other bad one is refused here."""
    merged = dict(vars(parsed_options))
    for option in OPTIONS:
        if option.name not in form:
            continue
        value = merged.get(option.name)
        try:
            merged[option.name] = type(value)(form[option.name]) if value is not None else form[option.name]
        except ValueError:
            if option.name not in PLAN_FIELDS:
                raise ConfigError(option.flag, f"got {form[option.name]!r}") from None
    return LoadTestOptions.from_namespace(argparse.Namespace(**merged))
