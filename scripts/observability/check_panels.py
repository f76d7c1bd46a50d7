#!/usr/bin/env python3
"""Checks QuestPath's dashboards against a live Prometheus that scraped a loaded server.

    check_panels.py PROMETHEUS_URL DASHBOARD.json...

For every dashboard (panels nested in rows included):
- lint, after grafana/dashboard-linter's rules: a `${datasource}` datasource on every
  panel and target, `job`/`instance` variables, every selector scoped by them,
  `$__rate_interval` (or `$__range`) windows except in panels whose description says
  they use a fixed window;
- every variable query (`label_values(...)`) returns values;
- every target expression, with Grafana's variables substituted as Grafana would
  for a recent time range, parses and returns at least one sample that is a number
  (histogram quantiles over quiet buckets give NaN, which is no data);
- every metric a target names exists in Prometheus, so a fallback such as `or ... * 0`
  cannot hide a misspelt name.
Prints one line per target; exits 1 if anything failed. Standard library only.
"""

import json
import math
import re
import sys
import urllib.error
import urllib.parse
import urllib.request

# What Grafana would substitute for a "last 15 minutes" view of a 1 s scrape: windows
# long enough to cover the short load run that fed Prometheus.
SUBSTITUTIONS = [
    ("$__rate_interval", "1m"),
    ("$__interval", "15s"),
    ("$__range", "5m"),
    ('"$job"', '".+"'),
    ('"$instance"', '".+"'),
    ("${datasource}", "prometheus"),
]
FIXED_WINDOW = re.compile(r"\[(\d+[smhdwy])\]")
METRIC = re.compile(r"\b((?:questpath|http|process|rate_limite[dr])_[a-z0-9_]+|up)\s*\{")
SELECTOR = re.compile(r"\b([a-z_:][a-z0-9_:]*)\{([^}]*)\}")
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}


def get(prometheus, path, **params):
    url = f"{prometheus}{path}?{urllib.parse.urlencode(params)}"
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:
        return json.load(error)


def substitute(expr):
    for name, value in SUBSTITUTIONS:
        expr = expr.replace(name, value)
    return expr


def panels(items):
    for panel in items:
        yield panel
        yield from panels(panel.get("panels", []))


def has_data(result):
    if result["resultType"] == "scalar":
        values = [result["result"][1]]
    else:
        values = [sample["value"][1] for sample in result["result"]]
    return any(not math.isnan(float(v)) for v in values)


def lint(dashboard):
    problems = []
    names = {v["name"]: v for v in dashboard.get("templating", {}).get("list", [])}
    if names.get("datasource", {}).get("type") != "datasource":
        problems.append("no datasource variable")
    for var in ("job", "instance"):
        if var not in names:
            problems.append(f"no {var} variable")
        elif names[var].get("datasource") != DATASOURCE:
            problems.append(f"variable {var} does not use ${{datasource}}")
    for key in ("uid", "title", "schemaVersion", "templating", "annotations"):
        if key not in dashboard:
            problems.append(f"no top-level {key}")
    for panel in panels(dashboard["panels"]):
        if panel["type"] in ("row", "text"):
            continue
        title = panel.get("title", "?")
        if panel.get("datasource") != DATASOURCE:
            problems.append(f"{title}: panel datasource is not ${{datasource}}")
        for t in panel.get("targets", []):
            expr = t.get("expr", "")
            if t.get("datasource") != DATASOURCE:
                problems.append(f"{title} [{t.get('refId')}]: target datasource is not ${{datasource}}")
            for metric, matchers in SELECTOR.findall(expr):
                if 'job=~"$job"' not in matchers or 'instance=~"$instance"' not in matchers:
                    problems.append(f"{title}: selector {metric}{{{matchers}}} is not scoped by $job and $instance")
            bare = [n for n in re.findall(r"\b(?:questpath|http|process)_[a-z0-9_]+\b(?!\s*\{)", expr)]
            if bare:
                problems.append(f"{title}: unscoped metric(s) {sorted(set(bare))}")
            if FIXED_WINDOW.search(expr) and "fixed window" not in panel.get("description", ""):
                problems.append(f"{title}: a fixed window {FIXED_WINDOW.search(expr).group(0)} without a description saying why")
    return problems


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    prometheus, files = sys.argv[1].rstrip("/"), sys.argv[2:]
    names = set(get(prometheus, "/api/v1/label/__name__/values")["data"])
    failures = 0
    checked = 0
    for path in files:
        dashboard = json.load(open(path, encoding="utf-8"))
        print(f"== {path}: {dashboard['title']}")
        for problem in lint(dashboard):
            print(f"FAIL lint: {problem}")
            failures += 1
        for var in dashboard["templating"]["list"]:
            query = var.get("definition", "")
            match = re.fullmatch(r"label_values\((?:(.+),\s*)?(\w+)\)", query)
            if not match:
                continue
            selector = substitute(match.group(1) or "")
            params = {"match[]": selector} if selector else {}
            values = get(prometheus, f"/api/v1/label/{match.group(2)}/values", **params).get("data", [])
            ok = bool(values)
            failures += not ok
            print(f"{'ok  ' if ok else 'FAIL'} variable ${var['name']}: {values[:5]}")
        for panel in panels(dashboard["panels"]):
            for t in panel.get("targets", []):
                checked += 1
                label = f"{panel['title']} [{t['refId']}]"
                expr = substitute(t["expr"])
                missing = sorted({n for n in METRIC.findall(t["expr"]) if n not in names})
                if missing:
                    print(f"FAIL {label}: unknown metric(s) {missing}")
                    failures += 1
                    continue
                answer = get(prometheus, "/api/v1/query", query=expr)
                if answer.get("status") != "success":
                    print(f"FAIL {label}: {answer.get('errorType')}: {answer.get('error')}\n     {expr}")
                    failures += 1
                elif not has_data(answer["data"]):
                    print(f"FAIL {label}: no data\n     {expr}")
                    failures += 1
                else:
                    result = answer["data"]["result"]
                    first = result[0]["value"][1] if isinstance(result, list) else result[1]
                    print(f"ok   {label}: {len(result) if isinstance(result, list) else 1} series, e.g. {first}")
    print(f"{checked} panel queries checked, {failures} problem(s)")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
