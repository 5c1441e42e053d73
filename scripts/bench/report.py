#!/usr/bin/env python3
"""Summarises the raw runs of scripts/bench/compare.sh (one JSON object per line).

  report.py median RAW SCENARIO        median req/s of a scenario at saturation
  report.py summary RAW META OUT_JSON OUT_MD
      medians, min and max of every measure per scenario, the budgets of issue 11 as
      ratios (per round and of the medians), RSS; writes JSON and a markdown table.
  report.py check OUT_JSON OUT_MD SCENARIO...
      the report's shape (for the bench smoke test): exit 1 naming what is missing.
"""

import json
import statistics
import sys
from collections import defaultdict


def load(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def spread(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def by(runs, phase, *keys):
    out = defaultdict(list)
    for r in runs:
        if r["phase"] == phase:
            out[tuple(r[k] for k in keys)].append(r)
    return out


def fmt(s, digits=0, unit=""):
    if s is None:
        return "–"
    f = f"{{:.{digits}f}}"
    if s["n"] == 1 or s["min"] == s["max"]:
        return f.format(s["median"]) + unit
    return f"{f.format(s['median'])}{unit} ({f.format(s['min'])}–{f.format(s['max'])})"


def summary(raw, meta_path, out_json, out_md):
    runs = load(raw)
    with open(meta_path) as f:
        meta = json.load(f)
    sat = by(runs, "saturation", "scenario")
    lat = by(runs, "latency", "scenario", "rate_label")

    scenarios = {}
    for (name,), rs in sorted(sat.items()):
        scenarios[name] = {
            "auth": rs[0]["auth"],
            "rps": spread([r["rps"] for r in rs]),
            "auth_cpu_us_per_req": spread([r["auth_cpu_us_per_req"] for r in rs]),
            "ingress_cpu_us_per_req": spread([r["ingress_cpu_us_per_req"] for r in rs]),
            "auth_rss_kb": spread([r["auth_rss_kb"] for r in rs]),
            "non_2xx": sum(r["non_2xx"] for r in rs),
            "socket_errors": sum(r["socket_errors"] for r in rs),
            "per_round": {r["round"]: r["rps"] for r in rs},
        }
    latency = {}
    for (name, label), rs in sorted(lat.items()):
        latency.setdefault(name, {})[label] = {
            "rate": rs[0]["rate"],
            "p50_us": spread([r["p50_us"] for r in rs]),
            "p99_us": spread([r["p99_us"] for r in rs]),
            "p999_us": spread([r["p999_us"] for r in rs]),
            "failed": sum(r["failed"] for r in rs),
            "p99_per_round": {r["round"]: r["p99_us"] for r in rs},
        }

    def med(name, key="rps"):
        s = scenarios.get(name, {}).get(key)
        return s["median"] if s else None

    def per_round(a, b):
        """a/b per round (rounds paired), as a spread."""
        ra, rb = scenarios.get(a, {}).get("per_round", {}), scenarios.get(b, {}).get("per_round", {})
        return spread([ra[k] / rb[k] for k in ra if k in rb and rb[k]])

    def ratio(x, y):
        return x / y if x is not None and y else None

    def added_p99(server, floor, label="50%"):
        """p99 added by an auth server over the floor, per round (rounds paired)."""
        s, f = latency.get(server, {}).get(label), latency.get(floor, {}).get(label)
        if not s or not f:
            return None, None
        rounds = [s["p99_per_round"][k] - f["p99_per_round"][k] for k in s["p99_per_round"] if k in f["p99_per_round"]]
        return s["p99_us"]["median"] - f["p99_us"]["median"], spread(rounds)

    budgets = []

    def budget(what, measured, per_round_spread, target, ok, note=""):
        budgets.append({
            "budget": what, "measured": measured, "per_round": per_round_spread, "target": target,
            "met": ok(measured) if measured is not None else None, "note": note,
        })

    b = ratio(med("portcullis_cookie_log"), med("portcullis_healthz"))
    budget("cookie check / null handler (Portcullis /healthz), req/s", b,
           per_round("portcullis_cookie_log", "portcullis_healthz"), ">= 0.85", lambda v: v >= 0.85)
    b = ratio(med("portcullis_healthz", "auth_cpu_us_per_req"), med("portcullis_cookie_log", "auth_cpu_us_per_req"))
    budget("cookie check / null handler, by CPU µs per request", b, None, ">= 0.85", lambda v: v >= 0.85)
    b = ratio(med("portcullis_cookie_quiet"), med("portcullis_healthz"))
    budget("cookie check, request log off / null handler", b,
           per_round("portcullis_cookie_quiet", "portcullis_healthz"), "(diagnostic)", lambda v: v >= 0.85)
    for log in ("log", "quiet"):
        b = ratio(med(f"nginx_portcullis_cookie_{log}"), med("nginx_nullauth"))
        budget(f"through nginx (same core) / do-nothing auth server, log {log}", b,
               per_round(f"nginx_portcullis_cookie_{log}", "nginx_nullauth"), ">= 0.95", lambda v: v >= 0.95)
    for log in ("log", "quiet"):
        b = ratio(med(f"portcullis_cookie_{log}"), med(f"oauth2proxy_cookie_{log}"))
        budget(f"cookie check req/s on one core, Portcullis / oauth2-proxy, log {log}", b,
               per_round(f"portcullis_cookie_{log}", f"oauth2proxy_cookie_{log}"), ">= 2", lambda v: v >= 2)
        b = ratio(med(f"oauth2proxy_cookie_{log}", "auth_cpu_us_per_req"),
                  med(f"portcullis_cookie_{log}", "auth_cpu_us_per_req"))
        budget(f"cookie check CPU µs per request, oauth2-proxy / Portcullis, log {log}", b, None, ">= 2",
               lambda v: v >= 2)
    for path in ("nocookie", "bearer"):
        b = ratio(med(f"portcullis_{path}_log"), med(f"oauth2proxy_{path}_log"))
        budget(f"{path} req/s, Portcullis / oauth2-proxy (diagnostic)", b,
               per_round(f"portcullis_{path}_log", f"oauth2proxy_{path}_log"), "(diagnostic)", lambda v: v >= 2)
    for prefix, floor in (("nginx_", "nginx_nullauth"), ("", "nullauth")):
        p, p_rounds = added_p99(f"{prefix}portcullis_cookie_log", floor)
        o, o_rounds = added_p99(f"{prefix}oauth2proxy_cookie_log", floor)
        where = "through nginx" if prefix else "alone"
        # A server that adds nothing measurable over the floor has no meaningful ratio.
        r = ratio(max(p, 0), o) if p is not None and o is not None and o > 0 else None
        budget(f"added p99 at 50% load {where}, Portcullis / oauth2-proxy (over {floor})", r, None,
               "<= 0.5", lambda v: v <= 0.5,
               f"Portcullis {p:+.0f} µs, oauth2-proxy {o:+.0f} µs"
               + (" (negative: within the floor's noise)" if min(p, o) < 0 else "")
               if p is not None and o is not None else "")
    rss = meta["rss_kb"]
    idle = rss["portcullis_log"]["idle"] / 1024
    budget("Portcullis RSS idle (MB)", idle, None, "<= 25", lambda v: v <= 25)
    rounds = sorted({r["round"] for r in runs if r["phase"] == "saturation"})
    rss_seq = [max(r["auth_rss_kb"] for r in runs if r["phase"] == "saturation" and r["auth"] == "portcullis_log"
                   and r["round"] == k) for k in rounds]
    growth = (max(rss_seq) - rss_seq[0]) / 1024 if rss_seq else None
    budget("Portcullis RSS growth after the first round (MB), i.e. flat", growth, None, "~0 (flat)",
           lambda v: v <= 1.0, "RSS after each round: " + ", ".join(f"{v / 1024:.1f}" for v in rss_seq) + " MB")
    served = sum(r["requests"] for r in runs if r["auth"] == "portcullis_log")
    budget("Portcullis RSS with 10,000 routes, idle (MB)", rss["portcullis10k_log"]["idle"] / 1024, None, "<= 25",
           lambda v: v <= 25)

    report = {**meta, "scenarios": scenarios, "latency": latency, "budgets": budgets,
              "portcullis_log_requests_served": served}
    with open(out_json, "w") as f:
        json.dump(report, f, indent=1, sort_keys=True)

    md = [f"## Portcullis vs oauth2-proxy ({meta['settings']['rounds']} rounds, "
          f"{meta['settings']['duration_s']} s per run)", "",
          f"Machine: {meta['machine']}; load average at start: {meta['load_average_at_start']}.",
          "Versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()) + ".",
          f"Session cookie: Portcullis {meta['cookie_bytes']['portcullis']} B, oauth2-proxy "
          f"{meta['cookie_bytes']['oauth2proxy']} B; bearer (ID token) {meta['bearer_bytes']} B.", "",
          "Median (min–max) over the rounds; µs/req is the auth server's CPU time per request "
          "(ingress: nginx's own).", "",
          "| scenario | req/s | auth µs/req | ingress µs/req | auth RSS kB | non-2xx |",
          "|---|---|---|---|---|---|"]
    for name, s in scenarios.items():
        md.append(f"| {name} | {fmt(s['rps'])} | {fmt(s['auth_cpu_us_per_req'], 1)} | "
                  f"{fmt(s['ingress_cpu_us_per_req'], 1)} | {fmt(s['auth_rss_kb'])} | {s['non_2xx']} |")
    if latency:
        md += ["", f"Latency at fixed rates (vegeta; 100% = {meta['settings']['max_alone']} req/s alone, "
               f"{meta['settings']['max_nginx']} req/s through nginx: the slower server's median):", "",
               "| scenario | load | rate | p50 µs | p99 µs | p99.9 µs | failed |", "|---|---|---|---|---|---|---|"]
    else:
        md += ["", "Latency at fixed rates: not measured in this run (RATE_ROUNDS=0 or a subset of scenarios)."]
    for name, labels in latency.items():
        for label, s in sorted(labels.items()):
            md.append(f"| {name} | {label} | {s['rate']} | {fmt(s['p50_us'])} | {fmt(s['p99_us'])} | "
                      f"{fmt(s['p999_us'])} | {s['failed']} |")
    md += ["", "| budget | measured (median; per-round range) | target | verdict |", "|---|---|---|---|"]
    for b in budgets:
        m = "–" if b["measured"] is None else f"{b['measured']:.2f}"
        if b["per_round"]:
            m += f" ({b['per_round']['min']:.2f}–{b['per_round']['max']:.2f})"
        if b["note"]:
            m += f"; {b['note']}"
        verdict = "–" if b["target"] == "(diagnostic)" or b["met"] is None else ("met" if b["met"] else "**missed**")
        md.append(f"| {b['budget']} | {m} | {b['target']} | {verdict} |")
    md += ["", "RSS kB (idle → after the saturation phase): " + "; ".join(
        f"{k} {v['idle']} → {v['after']}" for k, v in rss.items()) +
        f". Requests served by portcullis_log: {served}."]
    with open(out_md, "w") as f:
        f.write("\n".join(md) + "\n")


def check(report_json, report_md, *wanted):
    """The shape of a report, never its timings: every wanted scenario measured (requests
    answered, numbers where numbers belong), the budgets listed, the table written."""
    with open(report_json) as f:
        report = json.load(f)
    problems = []
    for key in ("machine", "versions", "settings", "rss_kb", "scenarios", "budgets"):
        if key not in report:
            problems.append(f"no {key!r} in {report_json}")
    scenarios = report.get("scenarios", {})
    for name in wanted:
        s = scenarios.get(name)
        if s is None:
            problems.append(f"scenario {name} missing")
            continue
        for measure in ("rps", "auth_cpu_us_per_req", "ingress_cpu_us_per_req", "auth_rss_kb"):
            m = s.get(measure)
            if not m or not all(isinstance(m.get(k), (int, float)) for k in ("median", "min", "max")):
                problems.append(f"{name}.{measure} is not a median/min/max of numbers: {m!r}")
        if not (s.get("rps") or {}).get("median"):
            problems.append(f"{name} answered no requests")
        if s.get("socket_errors"):
            problems.append(f"{name} had socket errors")
    for b in report.get("budgets", []):
        if not {"budget", "measured", "target", "met"} <= b.keys():
            problems.append(f"malformed budget {b!r}")
    with open(report_md) as f:
        md = f.read()
    for name in wanted:
        if f"| {name} |" not in md:
            problems.append(f"no table row for {name} in {report_md}")
    if "| budget |" not in md:
        problems.append(f"no budget table in {report_md}")
    for p in problems:
        print(f"report check: {p}", file=sys.stderr)
    return 1 if problems else 0


def main():
    if sys.argv[1] == "check":
        sys.exit(check(*sys.argv[2:]))
    if sys.argv[1] == "median":
        rs = [r["rps"] for r in load(sys.argv[2]) if r["phase"] == "saturation" and r["scenario"] == sys.argv[3]]
        print(int(statistics.median(rs)))
    else:
        summary(*sys.argv[2:6])


if __name__ == "__main__":
    main()
