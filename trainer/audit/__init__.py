"""``layernas audit``: how much a study's proxy ranking is worth. Modules, each importing only those
before it: ``stats`` (tau, rho, regret, bootstrap), ``select`` (which trials), ``runs`` (the longer runs,
claimed and recorded in the study's storage), ``summary`` (what they show), ``zero_cost``, ``plots``,
``report`` (audit.md, audit.csv, audit.json, the W&B run) and ``audit`` (plan and run)."""
