"""``layernas export``: a found network outside layernas, as a Hugging Face folder (transformers loads it with
``trust_remote_code=True``, no layernas needed) or an ONNX graph, with its tokenizer. ``plan.py`` plans,
``export.py`` writes; ``weights.py`` chooses the retrained seed (the weights come through ``analyze``'s
``source.py``), ``code.py`` gathers the ops' code, ``hf.py``, ``onnx_graph.py`` and
``tokenizer.py`` write the files, ``folder.py`` keeps a failure from leaving anything half-written."""
