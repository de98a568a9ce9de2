"""``layernas compare``: whole searches repeated per arm (a sampler, a strategy, any set of overrides) and
seed on equal training budgets, their answers checked at a longer budget, and which arm finds better
networks than which, with its probability over seed pairs."""
