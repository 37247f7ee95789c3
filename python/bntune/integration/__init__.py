"""bntune inside other tuners' code: :mod:`bntune.integration.optuna` gives an Optuna study
bntune's coarse-to-fine search (``pip install 'bntune[optuna]'``). Each submodule imports its
peer only when it is imported itself."""
