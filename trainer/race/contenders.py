"""Who races: the distinct networks the study's seed noise cannot tell from its best, and the baselines
they must beat."""

from __future__ import annotations

from dataclasses import dataclass

import optuna
from optuna.trial import FrozenTrial

from layernas.trainer.results.noise import seed_noise
from layernas.trainer.results.ranking import candidates


@dataclass(frozen=True)
class Contender:
    """A network of the study: its trial, architecture, baseline name (None for a searched network) and
    proxy value (the study's first objective, as recorded)."""

    trial: int
    arch: str
    baseline: str | None
    proxy: float

    @property
    def label(self) -> str:
        return f"#{self.trial}" + (f" ({self.baseline})" if self.baseline else "")

    @classmethod
    def of(cls, t: FrozenTrial) -> Contender:
        return cls(t.number, t.user_attrs["arch"], t.user_attrs.get("baseline") or None, float(t.values[0]))


def choose(study: optuna.Study, max_k: int, baselines) -> tuple[list[Contender], str]:
    """The contenders in proxy order, and a line on how they were chosen. One-line ``ValueError`` when the
    study has too few distinct networks or names a baseline it does not have."""
    ranked = candidates(study)
    if len(ranked) < 2:
        raise ValueError(f"study {study.study_name!r} has {len(ranked)} completed trial"
                         f"{'' if len(ranked) == 1 else 's'} with a distinct network; a race needs at least 2")
    noise = seed_noise(study)
    sign = -1.0 if study.directions[0] == optuna.study.StudyDirection.MAXIMIZE else 1.0
    best = ranked[0].values[0]
    if noise is None:
        tied = ranked[:max_k]
        how = (f"the best {len(tied)} networks by the proxy (the study measured no seed noise, so no tie band; "
               "`study.noise_seeds=[1,2]` measures it)")
    else:
        band = noise["tie_within"]
        within = [t for t in ranked if sign * (t.values[0] - best) <= band]
        tied = (within if len(within) >= 2 else ranked[:2])[:max_k]
        how = (f"{len(within) - 1} network{'s' if len(within) != 2 else ''} within the tie band of the best "
               f"(2√2σ = {band:.4f} of its proxy value), the best {len(tied)} of them raced"
               + (" (at least 2)" if len(within) < 2 else "") + (f" (race.max_k={max_k})" if len(within) > max_k
                                                                 else ""))
    chosen = [Contender.of(t) for t in tied]
    return chosen + [Contender.of(t) for t in _baselines(ranked, baselines, chosen, study)], how


def _baselines(ranked: list[FrozenTrial], wanted, chosen: list[Contender], study: optuna.Study) -> list[FrozenTrial]:
    """The baseline trials ``race.baselines`` asks for, not already chosen, in proxy order."""
    have = {t.user_attrs["baseline"]: t for t in ranked if t.user_attrs.get("baseline")}
    if isinstance(wanted, tuple):
        unknown = [n for n in wanted if n not in have]
        if unknown:
            raise ValueError(f"race.baselines has {unknown[0]!r}, which is not a completed baseline of study "
                             f"{study.study_name!r}; allowed: best, all, or a list of {', '.join(have) or '(none)'}")
        names = list(wanted)
    else:
        names = list(have)[:1] if wanted == "best" else list(have)
    taken = {c.trial for c in chosen}
    return [t for t in ranked if t.user_attrs.get("baseline") in names and t.number not in taken]
