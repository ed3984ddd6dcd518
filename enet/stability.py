"""Coefficient stability between two models: sign flips, support overlap, relative change.

Coefficients are matched by feature name on the standardised scale (so they compare
across features); a feature absent from one model counts as a zero coefficient there.
"""

from __future__ import annotations

import numpy as np

from enet.model import Model

__all__ = ["compare_coefficients", "schema_differences"]


def compare_coefficients(old: Model, new: Model) -> dict:
    """Stability summary of ``new`` against ``old``.

    Returns
    -------
    dict
        ``sign_flips`` (features nonzero in both with opposite signs), ``entered`` and
        ``left`` (support changes), ``support_jaccard`` (|both| / |either|, 1 when both
        are empty) and ``relative_l2_change`` (||b_new - b_old|| / ||b_old|| of the
        standardised coefficients).
    """
    names = list(dict.fromkeys(old.features + new.features))
    a = dict(zip(old.features, old.coef_std))
    b = dict(zip(new.features, new.coef_std))
    va = np.array([a.get(f, 0.0) for f in names])
    vb = np.array([b.get(f, 0.0) for f in names])
    sa, sb = va != 0, vb != 0
    either = int((sa | sb).sum())
    flips = [names[j] for j in np.flatnonzero(sa & sb & (np.sign(va) != np.sign(vb)))]
    norm = float(np.linalg.norm(va))
    return {"sign_flips": flips,
            "entered": [names[j] for j in np.flatnonzero(~sa & sb)],
            "left": [names[j] for j in np.flatnonzero(sa & ~sb)],
            "support_jaccard": float((sa & sb).sum() / either) if either else 1.0,
            "relative_l2_change": float(np.linalg.norm(vb - va) / norm) if norm > 0 else
            (0.0 if not vb.any() else float("inf"))}


def schema_differences(old: Model, new: Model) -> list[str]:
    """Differences in the required inputs (names and kinds); empty when compatible."""
    ka = {c.name: c.kind for c in old.inputs}
    kb = {c.name: c.kind for c in new.inputs}
    out = [f"new input '{n}'" for n in kb if n not in ka]
    out += [f"input '{n}' dropped" for n in ka if n not in kb]
    out += [f"input '{n}' changed from {ka[n]} to {kb[n]}" for n in ka
            if n in kb and ka[n] != kb[n]]
    if old.manifest.target != new.manifest.target:
        out.append(f"target changed from '{old.manifest.target}' to '{new.manifest.target}'")
    return out
