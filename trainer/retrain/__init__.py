"""``layernas retrain``: the full budget for a study's network on several seeds (:mod:`.train`), what it
writes (:mod:`.record`), its section of report.md (:mod:`.section`), and its weights loaded back:

    from layernas.trainer.retrain import load_retrained
    model = load_retrained("results/cpu_demo/retrain/<key>", seed=0)
"""

from layernas.trainer.retrain.load import load_retrained

__all__ = ["load_retrained"]
