"""Benchmark enet against other Elastic Net libraries on the same problems.

Every (dataset, task, peer) runs in its own subprocess, so a crash, an out-of-memory error or
a time limit is reported as such; peak memory is the child's ru_maxrss. Repetitions alternate
between peers (the order rotates each repetition); the table shows medians. The objective of
every solution is evaluated with the one shared function in ``bench/objective.py`` and compared
with a reference: a very tight enet run (tol 1e-12; scikit-learn at tol 1e-12 when enet cannot
run), lowered to the best objective any peer reached.

    python bench/run.py [--datasets D1,R1] [--tasks T1,T2,T3] [--peers enet,sklearn,...]
                        [--reps 3] [--timeout 300] [--small] [--markdown PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import datasets  # noqa: E402
import peers  # noqa: E402
from objective import objectives, relative_gap  # noqa: E402

TASK_TITLES = {
    "T1": "one fit, alpha = 0.01 alpha_max, l1_ratio 0.5",
    "T2": "path of 100 alphas, alpha_max -> 1e-3 alpha_max, l1_ratio 0.5",
    "T3": "5-fold CV, 100 alphas x l1_ratio {0.1, 0.5, 0.9, 1}, identical folds",
}


# =============================================================================================
# child side
# =============================================================================================
def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0   # KiB on Linux


def _tiny(X, y):
    """A small slice of the data with the same types, for JIT / import warm-up."""
    n = min(X.shape[0], 200)
    p = min(X.shape[1], 50)
    Xs = X[:n][:, :p]
    if hasattr(Xs, "tocsr"):
        Xs = Xs.tocsr()
    else:
        Xs = np.ascontiguousarray(Xs)
    return Xs, np.ascontiguousarray(y[:n])


def child(cfg: dict) -> dict:
    if cfg.get("mem_limit_gb"):
        lim = int(cfg["mem_limit_gb"] * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (lim, lim))
    mode = cfg["mode"]
    if mode == "cold":
        # import + first fit of enet; with an empty NUMBA_CACHE_DIR this is a full compile
        t = time.perf_counter()
        import enet
        rng = np.random.default_rng(0)
        X = rng.standard_normal((200, 5))
        y = X[:, 0] + rng.standard_normal(200)
        enet.ElasticNet(alpha=0.01, standardize=False).fit(X, y)
        enet.ElasticNetCV(l1_ratio=[0.5, 1.0], cv=3, n_alphas=5, standardize=False).fit(X, y)
        return {"time": time.perf_counter() - t}

    X, y = datasets.load(cfg["dataset"], cfg["small"])
    rss_data = _maxrss_mb()
    if mode == "floor":
        times = []
        for _ in range(cfg.get("reps", 3)):
            t = time.perf_counter()
            xx = X.T @ X
            xy = X.T @ y
            times.append(time.perf_counter() - t)
            del xx, xy
        return {"time": statistics.median(times), "rss_data": rss_data, "rss": _maxrss_mb()}

    prob = peers.make_problem(X, y)
    peer, task, tol = cfg["peer"], cfg["task"], cfg.get("tol")
    if mode == "ref_point":           # tight fit at one (alpha, l1_ratio), for T3 references
        prob = dict(prob, alpha=cfg["alpha"], l1_ratio=cfg["l1_ratio"])
        task = "T1"
    if cfg.get("warm", True):
        Xs, ys = _tiny(X, y)
        try:
            peers.fit(peer, task, Xs, ys, peers.make_problem(Xs, ys), tol)
        except Exception:  # noqa: BLE001  (warm-up failures show up in the timed run)
            pass
    t = time.perf_counter()
    out = peers.fit(peer, task, X, y, prob, tol)
    elapsed = time.perf_counter() - t
    obj = objectives(X, y, out["intercepts"], out["coefs"], out["alphas"], out["l1_ratio"])
    res = {"time": elapsed, "obj": obj.tolist(), "alphas": out["alphas"].tolist(),
           "l1_ratio": out["l1_ratio"], "notes": out["notes"], "rss_data": rss_data,
           "rss": _maxrss_mb(), "nnz": [int(np.count_nonzero(c)) for c in out["coefs"]]}
    if "alpha_sel" in out:
        res["sel"] = [float(out["alpha_sel"]), float(out["l1_ratio_sel"])]
    if "tol" in out:
        res["tol"] = float(out["tol"])      # the adapter chose one for this data
    return res


def child_main(path: str) -> None:
    with open(path) as f:
        cfg = json.load(f)
    try:
        res = child(cfg)
    except BaseException as exc:  # noqa: BLE001
        res = {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}",
               "rss": _maxrss_mb()}
    with open(cfg["out"], "w") as f:
        json.dump(res, f)


# =============================================================================================
# parent side
# =============================================================================================
def spawn(cfg: dict, timeout: float, env: dict | None = None) -> dict:
    """Run one child; always returns a dict (``status`` ok / error / timeout / crash)."""
    with tempfile.TemporaryDirectory() as tmp:
        cfg = dict(cfg, out=os.path.join(tmp, "out.json"))
        cpath = os.path.join(tmp, "cfg.json")
        with open(cpath, "w") as f:
            json.dump(cfg, f)
        t = time.perf_counter()
        # own session, so a time limit also ends the child's worker processes (joblib/loky)
        proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--child", cpath],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=env or os.environ.copy(), start_new_session=True)
        try:
            _, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.communicate()
            return {"status": "timeout", "wall": time.perf_counter() - t}
        if os.path.exists(cfg["out"]):
            with open(cfg["out"]) as f:
                res = json.load(f)
            res["status"] = "error" if "error" in res else "ok"
            return res
        tail = (stderr or "").strip().splitlines()[-1:] or [""]
        how = f"signal {-proc.returncode}" if proc.returncode < 0 else f"exit {proc.returncode}"
        if proc.returncode == -9:
            how += " (SIGKILL, likely out of memory)"
        return {"status": "crash", "error": f"{how} {tail[0][:150]}"}


def cold_start(timeout: float) -> dict:
    env = os.environ.copy()
    with tempfile.TemporaryDirectory() as cache:
        env["NUMBA_CACHE_DIR"] = cache
        compile_ = spawn({"mode": "cold"}, timeout, env)
    spawn({"mode": "cold"}, timeout)                 # make sure the normal cache is populated
    cached = spawn({"mode": "cold"}, timeout)
    return {"compile": compile_.get("time"), "cached": cached.get("time")}


def fmt_t(t):
    return "-" if t is None else (f"{t:.3g}" if t < 100 else f"{t:.0f}")


def fmt_gap(g):
    if g is None or not np.isfinite(g):
        return "-"
    return "<1e-14" if abs(g) < 1e-14 else f"{g:.1e}"


def run_case(ds: str, task: str, args, plist: list[str], versions: dict) -> dict:
    base = {"dataset": ds, "small": args.small, "task": task, "mem_limit_gb": args.mem_limit_gb}
    runs: dict[str, list] = {p: [] for p in plist}
    dead: dict[str, dict] = {}
    for rep in range(args.reps):
        order = plist[rep % len(plist):] + plist[:rep % len(plist)]
        for p in order:
            if p in dead:
                continue
            res = spawn(dict(base, mode="run", peer=p), args.timeout)
            if res["status"] != "ok":
                dead[p] = res
            runs[p].append(res)
            print(f"  [{ds} {task} rep {rep + 1}] {p:13s} {res['status']:8s} "
                  f"{fmt_t(res.get('time'))} s {res.get('error', '')}", flush=True)

    # reference objective(s)
    ok = {p: [r for r in rs if r["status"] == "ok"] for p, rs in runs.items()}
    ref_src = None
    if task in ("T1", "T2"):
        ref = None
        for src in ("enet", "sklearn"):
            r = spawn(dict(base, mode="run", peer=src, tol=peers.REF_TOL, warm=False),
                      args.ref_timeout)
            if r["status"] == "ok":
                ref, ref_src = np.array(r["obj"]), f"{src} tol={peers.REF_TOL:g}"
                break
        cands = [np.array(r["obj"]) for rs in ok.values() for r in rs
                 if len(r["obj"]) == (len(ref) if ref is not None else len(r["obj"]))]
        if ref is not None:
            cands.append(ref)
        best = np.min(np.vstack(cands), axis=0) if cands else None
        refs = {"path": best}
    else:
        refs = {}
        points = sorted({tuple(r["sel"]) for rs in ok.values() for r in rs})
        for a, l1 in points:
            vals = [r["obj"][0] for rs in ok.values() for r in rs if tuple(r["sel"]) == (a, l1)]
            for src in ("enet", "sklearn"):
                r = spawn(dict(base, mode="ref_point", peer=src, tol=peers.REF_TOL, warm=False,
                               alpha=a, l1_ratio=l1), args.ref_timeout)
                if r["status"] == "ok":
                    vals.append(r["obj"][0])
                    ref_src = f"{src} tol={peers.REF_TOL:g} at each selected point"
                    break
            refs[(a, l1)] = min(vals)

    enet_sel = None
    if ok.get("enet") and task == "T3":
        enet_sel = tuple(ok["enet"][0]["sel"])
    rows = []
    enet_t = statistics.median([r["time"] for r in ok["enet"]]) if ok.get("enet") else None
    for p in plist:
        row = {"peer": p, "version": versions.get(p, ""),
               "tol": ok[p][0].get("tol", peers.TOLS[p]) if ok[p] else peers.TOLS[p]}
        if not ok[p]:
            bad = runs[p][-1]
            row["status"] = bad["status"] + (f": {bad['error']}" if bad.get("error") else "")
            row["rss"] = bad.get("rss")
            rows.append(row)
            continue
        good = ok[p]
        t = statistics.median([r["time"] for r in good])
        row.update(status="ok" if len(good) == len(runs[p]) else
                   f"{len(runs[p]) - len(good)} rep(s) failed: {runs[p][-1].get('error', '')}",
                   time=t, ratio=(t / enet_t if enet_t else None),
                   rss=max(r["rss"] for r in good), rss_data=good[0]["rss_data"],
                   notes=sorted({n for r in good for n in r["notes"]}))
        if task == "T3":
            sel = tuple(good[0]["sel"])
            row["sel"] = sel
            row["same"] = (None if enet_sel is None else
                           bool(abs(sel[0] / enet_sel[0] - 1) < 1e-9 and sel[1] == enet_sel[1]))
            row["gap"] = max(float(relative_gap(r["obj"][0], refs[tuple(r["sel"])]))
                             for r in good)
            if len({tuple(r["sel"]) for r in good}) > 1:
                row["notes"].append("selection differs between repetitions")
        else:
            best = refs["path"]
            gaps = []
            for r in good:
                if best is not None and len(r["obj"]) == len(best):
                    gaps.append(float(np.max(relative_gap(np.array(r["obj"]), best))))
                else:
                    row["notes"].append(f"{len(r['obj'])} path points returned")
            row["gap"] = max(gaps) if gaps else None
        rows.append(row)
    return {"dataset": ds, "task": task, "rows": rows, "ref": ref_src}


def render(case: dict, dsinfo: str, floor: dict | None, reps: int) -> str:
    task = case["task"]
    out = [f"### {case['dataset']} ({dsinfo}) - {task}: {TASK_TITLES[task]}", ""]
    cv = task == "T3"
    head = ["peer", "version", "tol", "median s", "x enet", "rel. obj gap" + (" (refit)" if cv else
                                                                               " (max over path)" if task == "T2" else ""),
            "peak MB (data MB)"]
    if cv:
        head += ["selected alpha", "l1_ratio", "= enet"]
    head += ["status / notes"]
    out.append("| " + " | ".join(head) + " |")
    out.append("|" + "|".join("---" for _ in head) + "|")
    for r in case["rows"]:
        mem = "-" if r.get("rss") is None else (
            f"{r['rss']:.0f} ({r['rss_data']:.0f})" if r.get("rss_data") else f"{r['rss']:.0f}")
        cells = [r["peer"], r["version"], f"{r['tol']:g}", fmt_t(r.get("time")),
                 "-" if r.get("ratio") is None else f"{r['ratio']:.2f}", fmt_gap(r.get("gap")), mem]
        if cv:
            sel = r.get("sel")
            cells += ["-" if sel is None else f"{sel[0]:.5g}", "-" if sel is None else f"{sel[1]:g}",
                      "-" if r.get("same") is None else ("yes" if r["same"] else "no")]
        notes = [r["status"]] if r["status"] != "ok" else []
        notes += r.get("notes", [])
        cells.append("; ".join(notes).replace("|", "/"))
        out.append("| " + " | ".join(cells) + " |")
    out.append("")
    extra = [f"median of {reps} repetition(s); reference objective: {case['ref'] or 'best peer only'}"]
    if floor is not None:
        extra.append("floor (X'X and X'y once): " + (
            f"{fmt_t(floor['time'])} s" if floor["status"] == "ok"
            else f"{floor['status']} {floor.get('error', '')}"))
    out.append("; ".join(extra))
    out.append("")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description="Elastic Net benchmark: enet vs peers")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--datasets", default="R1,D1,D2,D3")
    ap.add_argument("--tasks", default="T1,T2,T3")
    ap.add_argument("--peers", default=",".join(peers.PEERS))
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per child run")
    ap.add_argument("--ref-timeout", type=float, default=None,
                    help="seconds for the tight reference runs (default: 2 x --timeout)")
    ap.add_argument("--mem-limit-gb", type=float, default=20.0,
                    help="address-space limit of each child (0: none)")
    ap.add_argument("--small", action="store_true", help="scaled-down D1-D3 (R1 unchanged)")
    ap.add_argument("--markdown", help="also write the tables to this file")
    args = ap.parse_args()
    if args.child:
        child_main(args.child)
        return
    args.ref_timeout = args.ref_timeout or 2 * args.timeout
    dss = [d.strip() for d in args.datasets.split(",") if d.strip()]
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    plist = [p.strip() for p in args.peers.split(",") if p.strip()]
    for name, allowed in (("dataset", datasets.NAMES), ("task", peers.TASKS),
                          ("peer", peers.PEERS)):
        bad = [v for v in {"dataset": dss, "task": tasks, "peer": plist}[name] if v not in allowed]
        if bad:
            ap.error(f"unknown {name}(s) {bad}; choose from {allowed}")

    versions = {p: peers.version(p) for p in plist}
    import numba
    import scipy
    header = [
        "# Elastic Net benchmark", "",
        f"Command: `python bench/run.py {' '.join(sys.argv[1:])}`  ",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"numpy {np.__version__}, scipy {scipy.__version__}, numba {numba.__version__}; "
        f"date {time.strftime('%Y-%m-%d %H:%M')}  ",
        "Peers: " + ", ".join(f"{p} {v}" for p, v in versions.items()), "",
    ]
    if "enet" in plist:
        cs = cold_start(args.timeout)
        header.append(f"enet cold start (import + first small fit and CV, fresh process): "
                      f"{fmt_t(cs['compile'])} s with an empty numba cache (full JIT compile), "
                      f"{fmt_t(cs['cached'])} s with the on-disk cache. Timed runs below are warm "
                      f"(every peer first fits a 200-row slice in the same process).")
        header.append("")
    print("\n".join(header), flush=True)
    sections = []
    for ds in dss:
        X, y = datasets.load(ds, args.small, mmap=True)
        info = datasets.describe(X, y)
        del X, y
        floor = spawn({"mode": "floor", "dataset": ds, "small": args.small, "reps": args.reps,
                       "mem_limit_gb": args.mem_limit_gb}, args.timeout)
        for task in tasks:
            case = run_case(ds, task, args, plist, versions)
            text = render(case, info, floor, args.reps)
            print("\n" + text, flush=True)
            sections.append(text)
            if args.markdown:
                with open(args.markdown, "w") as f:
                    f.write("\n".join(header + sections))


if __name__ == "__main__":
    main()
