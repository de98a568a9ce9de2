"""The commands: thin Hydra app bodies over the packages below them (``layernas <command>``)."""
