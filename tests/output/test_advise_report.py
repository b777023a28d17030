from sim.output.advise_report import advise_section, probability_text


def _row(name, **kw):
    row = {"mitigation": name, "keys": [name], "meets_slo": True, "lost_visitors_fraction": 0.0,
           "lost_actions_fraction": 0.0, "p95_s": 0.2, "error_fraction": 0.0, "instance_hours_added": 0,
           "cost": 0.0, "bottleneck": "", "scenario": f"variants/{name}.toml", "probability_holds": None,
           "probability_holds_ci": None, "meets_confidence": None, "assessed": "no", "probability_holds_bound": None}
    return {**row, **kw}


def test_the_advice_with_confidence_says_how_often_each_variant_holds():
    rows = [_row("x3", probability_holds=0.94, probability_holds_ci=[0.851, 0.977], meets_confidence=True,
                 assessed="assessed", cost=0.03),
            _row("as is", meets_slo=False, assessed="ruled out", probability_holds_bound=0.75, meets_confidence=False),
            _row("x4", cost=0.05)]
    html = advise_section({"slo": "lost_actions<1%", "rows": rows, "cheapest": "x3", "confidence": 0.9,
                           "cheapest_at_confidence": "x3", "price_per_instance_hour": 0.1})
    assert "Cheapest that meets <code>lost_actions&lt;1%</code> in 90 % of the plausible surges: x3" in html
    assert "<th>holds in (95 % interval)</th><th>in 90 %</th>" in html
    assert "94 % [85, 98]" in html and "at most 75 % (ruled out)" in html
    assert [probability_text(r) for r in rows] == ["94 % [85, 98]", "at most 75 % (ruled out)", "–"]
    plain = advise_section({"slo": "lost_actions<1%", "rows": rows, "cheapest": "x3"})  # without --confidence
    assert "plausible" not in plain and "holds in" not in plain
