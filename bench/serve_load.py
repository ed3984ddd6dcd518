"""Load test of ``enet serve`` against ``mlflow models serve`` and a bare FastAPI app.

All three serve the same model on the diabetes data (scikit-learn's copy, 442 x 10,
``sex`` categorical): enet's cross-validated Elastic Net, and for the peers a
scikit-learn Pipeline (one-hot ``sex``, standardise, ``ElasticNet`` at enet's alpha
and l1_ratio). The load generator is wrk (Debian package) with a Lua script that
POSTs a fixed body: one row or 100 rows, at several connection counts, then
single rows paced to ~500 requests/s for the latency target. A soak run keeps
steady load on ``enet serve`` while the champion alias moves to another version
halfway, and reports failed requests and the server's resident memory. ``--drift``
measures the cost of the drift gauges instead: two ``enet serve`` processes, one with
the default drift window and one with ``--drift-window 0``, loaded alternately (on,
off, off, on, ...) at every row count and connection level, so that both see the same
machine; medians over the rounds and their ratio.

Pinning (2 shared cores): each server (and all its worker processes) on CPU 1,
wrk on CPU 0 (``taskset``).

    python bench/serve_load.py [--seconds 5] [--soak 300] [--out bench/results_serve.json]
    python bench/serve_load.py --drift [--rounds 3] [--seconds 5] [--out bench/results_drift.json]
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import numpy as np

from bench_serve_data import diabetes

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SERVER_CPU, CLIENT_CPU = "1", "0"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} not ready")


def post(url: str, body: bytes) -> dict:
    req = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def start(cmd: list[str], log_path: str, env=None) -> subprocess.Popen:
    log = open(log_path, "wb")
    return subprocess.Popen(["taskset", "-c", SERVER_CPU, *cmd], stdout=log,
                            stderr=subprocess.STDOUT, env=env, start_new_session=True)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def wrk(url: str, body_file: str, connections: int, seconds: float,
        delay_ms: float = 0.0) -> dict:
    env = dict(os.environ, WRK_BODY_FILE=body_file, WRK_DELAY_MS=str(delay_ms))
    out = subprocess.run(["taskset", "-c", CLIENT_CPU, "wrk", "-t1", f"-c{connections}",
                          f"-d{int(seconds)}s", "--timeout", "10s", "-s",
                          os.path.join(HERE, "serve", "post.lua"), url],
                         capture_output=True, text=True, env=env, check=True)
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("{")][-1]
    res = json.loads(line)
    res["rps"] = res["requests"] / res["seconds"]
    res["failed"] = sum(res[k] for k in res if k.startswith("errors_"))
    return res


def build(tmp: str):
    """enet model versions 1 and 2 in a registry, the sklearn pipeline, and the bodies."""
    import mlflow.sklearn
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import ElasticNet
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    import enet
    from enet.registry import Registry

    df = diabetes()
    reg = Registry(os.path.join(tmp, "reg"))
    m1 = enet.train_model(df, target="y", categorical=["sex"])
    reg.register("diabetes", m1)
    reg.register("diabetes", enet.train_model(df.iloc[::2], target="y", categorical=["sex"]))
    reg.set_alias("diabetes", "champion", 1)
    X, y = df.drop(columns="y"), df["y"]
    numeric = [c for c in X.columns if c != "sex"]
    pipe = Pipeline([("prep", ColumnTransformer([
        ("sex", OneHotEncoder(handle_unknown="ignore"), ["sex"]),
        ("num", StandardScaler(), numeric)])),
        ("enet", ElasticNet(alpha=m1.alpha, l1_ratio=m1.l1_ratio))]).fit(X, y)
    with open(os.path.join(tmp, "pipeline.pkl"), "wb") as fh:
        pickle.dump(pipe, fh)
    mlflow.sklearn.save_model(pipe, os.path.join(tmp, "mlflow_model"),
                              input_example=X.iloc[:2])
    records = X.to_dict("records")
    bodies = {}
    for n in (1, 100):
        rows = [{k: (int(v) if k == "sex" else float(v)) for k, v in r.items()}
                for r in records[:n]]
        for kind, payload in (("rows", {"rows": rows}),
                              ("mlflow", {"dataframe_records": rows})):
            path = os.path.join(tmp, f"{kind}_{n}.json")
            with open(path, "w") as fh:
                json.dump(payload, fh)
            bodies[kind, n] = path
    return reg, m1, pipe, X, bodies


def servers(tmp: str):
    py = sys.executable
    env = dict(os.environ, PATH=os.path.dirname(py) + os.pathsep + os.environ["PATH"],
               PYTHONPATH=ROOT)
    specs = {}
    p = free_port()
    specs["enet serve"] = ([py, "-m", "enet.cli", "serve", "--model", "diabetes@champion",
                            "--registry", os.path.join(tmp, "reg"), "--port", str(p)],
                           f"http://127.0.0.1:{p}", "/predict", "/v2/health/ready", "rows")
    p = free_port()
    specs["mlflow models serve"] = ([py, "-m", "mlflow", "models", "serve", "-m",
                                     os.path.join(tmp, "mlflow_model"), "--env-manager",
                                     "local", "-h", "127.0.0.1", "-p", str(p), "-w", "1"],
                                    f"http://127.0.0.1:{p}", "/invocations", "/ping", "mlflow")
    p = free_port()
    specs["bare FastAPI + sklearn"] = ([py, os.path.join(HERE, "serve", "bare_fastapi.py"),
                                        os.path.join(tmp, "pipeline.pkl"), str(p)],
                                       f"http://127.0.0.1:{p}", "/predict", None, "rows")
    return specs, env


def compare(tmp, bodies, m1, pipe, X, seconds, levels, only=None):
    specs, env = servers(tmp)
    results = []
    for name, (cmd, base, path, ready, kind) in specs.items():
        if only and name not in only:
            continue
        proc = start(cmd, os.path.join(tmp, f"{name.split()[0]}.log"), env)
        try:
            if ready:
                wait_ready(base + ready, proc)
            else:
                for _ in range(240):
                    try:
                        post(base + path, open(bodies[kind, 1], "rb").read())
                        break
                    except OSError:
                        time.sleep(0.25)
            # the peers answer the same numbers (to the solvers' tolerance)
            answer = post(base + path, open(bodies[kind, 100], "rb").read())
            preds = answer["predictions"]
            if preds and isinstance(preds[0], dict):
                preds = [p[next(iter(p))] for p in preds]
            ref = m1.predict(X.iloc[:100])
            diff = float(np.max(np.abs(np.asarray(preds, float) - ref)))
            wrk(base + path, bodies[kind, 1], 4, 2)                 # warm-up
            for n in (1, 100):
                for c in levels:
                    r = wrk(base + path, bodies[kind, n], c, seconds)
                    r.update(server=name, rows=n, connections=c, max_abs_diff_vs_enet=diff)
                    results.append(r)
                    print(f"{name:24s} rows={n:3d} c={c:2d} {r['rps']:8.0f} req/s  p50 "
                          f"{r['p50_ms']:6.2f}  p95 {r['p95_ms']:6.2f}  p99 {r['p99_ms']:6.2f} "
                          f"ms  failed {r['failed']}", flush=True)
            # single rows paced to about 500 requests/s: 4 connections, each waiting 7 ms
            # after a response (so ~8 ms a cycle at enet's ~1 ms latency under pacing)
            r = wrk(base + path, bodies[kind, 1], 4, seconds, delay_ms=7)
            r.update(server=name, rows=1, connections=4, paced="~500/s",
                     max_abs_diff_vs_enet=diff)
            results.append(r)
            print(f"{name:24s} paced: {r['rps']:6.0f} req/s  p50 {r['p50_ms']:.2f}  p95 "
                  f"{r['p95_ms']:.2f}  p99 {r['p99_ms']:.2f} ms", flush=True)
        finally:
            stop(proc)
    return results


def soak(tmp, reg, bodies, seconds: float) -> dict:
    specs, env = servers(tmp)
    cmd, base, path, ready, kind = specs["enet serve"]
    proc = start(cmd, os.path.join(tmp, "soak.log"), env)
    try:
        wait_ready(base + ready, proc)
        wrk(base + path, bodies[kind, 1], 4, 3)
        rss_start = rss_kib(proc.pid)
        env_wrk = dict(os.environ, WRK_BODY_FILE=bodies[kind, 1], WRK_DELAY_MS="0")
        load = subprocess.Popen(["taskset", "-c", CLIENT_CPU, "wrk", "-t1", "-c8",
                                 f"-d{int(seconds)}s", "--timeout", "10s", "-s",
                                 os.path.join(HERE, "serve", "post.lua"), base + path],
                                stdout=subprocess.PIPE, text=True, env=env_wrk)
        time.sleep(seconds / 2)
        before = post(base + path, open(bodies[kind, 1], "rb").read())["version"]
        reg.promote("diabetes", 2, force=True, reason="soak: alias change under load")
        time.sleep(5)
        after = post(base + path, open(bodies[kind, 1], "rb").read())["version"]
        rss_mid = rss_kib(proc.pid)
        out, _ = load.communicate()
        rss_end = rss_kib(proc.pid)
        res = json.loads([ln for ln in out.splitlines() if ln.startswith("{")][-1])
        res.update(rps=res["requests"] / res["seconds"],
                   failed=sum(res[k] for k in res if k.startswith("errors_")),
                   version_before=before, version_after=after, rss_kib_start=rss_start,
                   rss_kib_mid=rss_mid, rss_kib_end=rss_end)
        print(f"soak {seconds:.0f}s: {res['requests']} requests ({res['rps']:.0f}/s), failed "
              f"{res['failed']}, version {before} -> {after}, RSS {rss_start} -> {rss_mid} -> "
              f"{rss_end} KiB, p99 {res['p99_ms']:.2f} ms", flush=True)
        return res
    finally:
        stop(proc)


def drift_cost(tmp, bodies, seconds: float, levels, rounds: int) -> list[dict]:
    """Throughput and latency of enet serve with and without drift tracking, alternated."""
    specs, env = servers(tmp)
    cmd, base, path, ready, kind = specs["enet serve"]
    port = free_port()
    off_cmd = [*cmd[:cmd.index("--port") + 1], str(port), "--drift-window", "0"]
    variants = {"drift on (default window)": (cmd, base),
                "drift off (--drift-window 0)": (off_cmd, f"http://127.0.0.1:{port}")}
    procs, urls = {}, {}
    try:
        for name, (argv, url) in variants.items():
            procs[name] = start(argv, os.path.join(tmp, f"{name.split()[1]}.log"), env)
            wait_ready(url + ready, procs[name])
            wrk(url + path, bodies[kind, 1], 4, 2)                 # warm-up
            urls[name] = url
        on, off = list(variants)
        scrape = urllib.request.urlopen(urls[on] + "/metrics", timeout=10).read().decode()
        assert "enet_drift_psi{" in scrape and "enet_drift_psi{" not in \
            urllib.request.urlopen(urls[off] + "/metrics", timeout=10).read().decode()
        results = []
        for n in (1, 100):
            for c in levels:
                runs = {name: [] for name in variants}
                for r in range(rounds):
                    for name in ((on, off) if r % 2 == 0 else (off, on)):
                        runs[name].append(wrk(urls[name] + path, bodies[kind, n], c, seconds))
                row = {"rows": n, "connections": c}
                for name, got in runs.items():
                    row[name] = {k: float(np.median([g[k] for g in got]))
                                 for k in ("rps", "p50_ms", "p95_ms", "p99_ms")}
                    row[name]["rps_runs"] = [round(g["rps"]) for g in got]
                    row[name]["failed"] = sum(g["failed"] for g in got)
                row["rps_ratio_on_over_off"] = row[on]["rps"] / row[off]["rps"]
                results.append(row)
                print(f"rows={n:3d} c={c:2d}  on {row[on]['rps']:7.0f} req/s p50 "
                      f"{row[on]['p50_ms']:.2f} p99 {row[on]['p99_ms']:.2f} ms | off "
                      f"{row[off]['rps']:7.0f} req/s p50 {row[off]['p50_ms']:.2f} p99 "
                      f"{row[off]['p99_ms']:.2f} ms | on/off {row['rps_ratio_on_over_off']:.3f}",
                      flush=True)
        return results
    finally:
        for proc in procs.values():
            stop(proc)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--levels", default="1,4,16")
    ap.add_argument("--soak", type=float, default=300, help="soak seconds (0: skip)")
    ap.add_argument("--only", action="append", help="run only this server (repeatable)")
    ap.add_argument("--drift", action="store_true",
                    help="only measure enet serve with and without drift tracking")
    ap.add_argument("--rounds", type=int, default=3, help="alternations per point (--drift)")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk not found: apt-get install -y wrk")
    levels = [int(c) for c in args.levels.split(",")]
    tmp = tempfile.mkdtemp(prefix="enet-serve-bench-")
    reg, m1, pipe, X, bodies = build(tmp)
    facts = {"date": time.strftime("%Y-%m-%d %H:%M"), "cpus": os.cpu_count(),
             "python": platform.python_version(), "machine": platform.machine(),
             "pinning": f"server on CPU {SERVER_CPU}, wrk on CPU {CLIENT_CPU} (taskset)"}
    if args.drift:
        results = drift_cost(tmp, bodies, args.seconds, levels, args.rounds)
        with open(args.out or os.path.join(HERE, "results_drift.json"), "w") as fh:
            json.dump({"facts": facts, "results": results}, fh, indent=1)
        shutil.rmtree(tmp, ignore_errors=True)
        return
    results = compare(tmp, bodies, m1, pipe, X, args.seconds, levels, args.only)
    by = {(r["server"], r["rows"], r["connections"], r.get("paced")): r for r in results}
    print("\nthroughput ratios (enet / peer):")
    for peer in ("mlflow models serve", "bare FastAPI + sklearn"):
        for n in (1, 100):
            for c in levels:
                a, b = by.get(("enet serve", n, c, None)), by.get((peer, n, c, None))
                if a and b:
                    print(f"  vs {peer:24s} rows={n:3d} c={c:2d}: {a['rps'] / b['rps']:6.1f}x")
    soaked = soak(tmp, reg, bodies, args.soak) if args.soak > 0 else None
    with open(args.out or os.path.join(HERE, "results_serve.json"), "w") as fh:
        json.dump({"facts": facts, "results": results, "soak": soaked}, fh, indent=1)
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
