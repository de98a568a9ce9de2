"""``layernas glue``: a study's network and its BERT baseline pre-trained with the study's masked-LM settings,
fine-tuned on GLUE tasks on several seeds, and reported as the seed papers report an architecture."""
