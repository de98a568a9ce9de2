"""The search machinery, in layers that import one way only (each module imports only those above it
in this list, never one below):

    format      numbers as the progress lines and reports print them
    objectives  what a study optimises (``objectives=[...]``)
    storage     storage URLs, RDB/journal storages, the stale-trial handler
    samplers    samplers and pruners from ``conf/sampler`` and ``conf/pruner``
    plan        SearchPlan: the validated config; TrialFailed
    study       opening, resuming and finding studies; queueing the baselines
    slots       counting trials and the lock that keeps workers at exactly ``study.n_trials``
    trial       one trial: sample, reject, reuse a twin or train a proxy, tell Optuna
    runner      one process's trials: claim a slot, run a trial, until the study is full
    workers     ``study.n_workers`` local worker processes, each a runner
    noise_runs  ``study.noise_seeds``: the baselines again on other seeds, for the seed noise
    loop        a whole search: plan, data, study, baselines, runners or workers, noise, final results

The commands in ``trainer/apps`` sit on top of this package; ``trainer/optuna_private.py`` holds the
private Optuna calls it needs.
"""
