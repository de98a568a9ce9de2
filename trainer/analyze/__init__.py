"""``layernas analyze``: what a study's model does with its heads. Modules, each importing only those
before it: ``measures`` (per-head measures of attention maps and kernels), ``capture`` (the encoder run
with ``layernas.search_space.attention_maps`` recording), ``inputs`` (documents as model inputs),
``conllu`` (Htut et al.'s dependency relations), ``plots``, ``report`` (analysis.md, analysis.json,
heads.csv, the W&B run), ``source`` (retrained weights or a proxy run) and ``analyze`` (plan and run)."""
