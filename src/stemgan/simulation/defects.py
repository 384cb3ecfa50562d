"""Point defects drawn per column with per-site rates (vacancies, substitutions, dopants)."""

from __future__ import annotations

import numpy as np

from stemgan.config import DefectRule
from stemgan.errors import StemganError

NO_DEFECT = "none"


def check_rules(rules: tuple[DefectRule, ...], species: tuple[str, ...], where: str) -> None:
    """Rules must name species of the crystal and have rates that sum to <= 1 per site."""
    totals: dict[str, float] = {}
    for rule in rules:
        if rule.site not in species:
            raise StemganError(f"{where}: defect '{rule.name}' site '{rule.site}' is not in the crystal {species}")
        if rule.rate < 0 or (rule.remove <= 0) == (rule.substitute is None):
            raise StemganError(f"{where}: defect '{rule.name}' needs rate >= 0 and exactly one of remove or substitute")
        totals[rule.site] = totals.get(rule.site, 0.0) + rule.rate
    over = {s: t for s, t in totals.items() if t > 1.0}
    if over:
        raise StemganError(f"{where}: defect rates on {over} add up to more than 1; lower them")


def apply_defects(
    counts: np.ndarray, species: tuple[str, ...], rules: tuple[DefectRule, ...], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Draw at most one defect per column; returns new counts and the defect name of each column.

    One uniform number per column picks the defect: columns of site s use the cumulative rates of
    the rules on s, so rates are exact per-site probabilities.
    """
    counts = counts.copy()
    defect = np.full(len(counts), NO_DEFECT, dtype=object)
    u = rng.random(len(counts))
    lower = {s: 0.0 for s in species}
    for rule in rules:  # loops over a handful of rules; columns are handled as arrays
        site = species.index(rule.site)
        eligible = (counts[:, site] > 0) & (defect == NO_DEFECT)
        hit = eligible & (u >= lower[rule.site]) & (u < lower[rule.site] + rule.rate)
        lower[rule.site] += rule.rate
        if rule.remove:
            counts[hit, site] = np.maximum(counts[hit, site] - rule.remove, 0)
        else:
            counts[hit, site] -= 1
            counts[hit, species.index(rule.substitute)] += 1
        defect[hit] = rule.name
    return counts, defect
