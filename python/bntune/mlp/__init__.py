"""The example the demo and ``bntune run``'s built-in objective tune: a batch-norm MLP on a named
dataset, as a resumable trainable (:class:`MLPTrainable`, for caviar, PBT and panda) and as a
function objective (:class:`MLPObjective`, for optimize and coarse-to-fine)."""

from bntune.mlp.trainable import DATASETS, OPTIMIZERS, MLPTrainable

__all__ = ["DATASETS", "OPTIMIZERS", "MLPTrainable"]
