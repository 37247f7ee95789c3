"""The tuner: search spaces on the right scale, quasi-random sampling, coarse-to-fine zoom, and
a study that survives a crash.

>>> from bntune import tune
>>> space = tune.Space(lr=tune.LogUniform(1e-4, 1), beta=tune.OneMinusLogUniform(0.9, 0.999))
>>> study = tune.Study("demo", storage=None, seed=0)
>>> study.optimize(lambda t: (t.params["lr"] - 0.01) ** 2, space, n_trials=8)
>>> study.best_trial.state
'complete'

Training modes take a ``tune.Trainable`` class (``tune.MLPTrainable`` trains the digits MLP):
``study.caviar(trainable, space, population=27, epochs=27, scheduler=tune.ASHA())`` trains many
in parallel, ``study.babysit(trainable, params, epochs=20)`` watches one (panda mode),
``study.pbt(...)`` evolves a population; ``study.best_checkpoint().load(trainable)`` takes the
best model home. Work runs on a local process pool (``n_workers``) or any
``concurrent.futures.Executor`` (``executor=``, e.g. Dask's ``client.get_executor()``).

Define by run, as Optuna scripts are written: ``study.optimize(objective, n_trials=50)`` with
``trial.suggest_float("lr", 1e-5, 1e-1, log=True)``, ``suggest_int``, ``suggest_categorical``
and ``suggest_one_minus_log`` inside the objective; ``study.ask()`` / ``study.tell(trial, value)``
for a loop of your own; ``Study(directions=[...])`` for several objectives (``best_trials``).

``tune.Study(name, storage=path, read_only=True)`` reads a study without its lease, while a
driver runs it; ``study.importance()`` ranks the hyperparameters by first-order variance share.
See ``docs/architecture.md`` for how the tuner is built.
"""

from bntune.mlp.trainable import MLPTrainable
from bntune.tune.ask_tell import CoarseToFine
from bntune.tune.checkpoints import Checkpoint
from bntune.tune.dimensions import (
    Choice,
    Dimension,
    Fixed,
    IntLogUniform,
    IntUniform,
    LogUniform,
    OneMinusLogUniform,
    Stepped,
    Uniform,
)
from bntune.tune.errors import (
    AllTrialsFailed,
    Pruned,
    RoundPending,
    SearchFinished,
    StorageError,
    StudyLocked,
    StudyReadOnly,
    TrialUsageError,
)
from bntune.tune.executors import InlineExecutor, process_pool
from bntune.tune.failures import DivergedTrialsWarning, FailedTrialsWarning
from bntune.tune.importance import first_order_shares
from bntune.tune.panda import BabysitView, DefaultPolicy, Rollback, SetParams, Stop
from bntune.tune.pruners import MedianStopping, Pruner
from bntune.tune.run_control import ResumedWarning
from bntune.tune.samplers import SAMPLERS
from bntune.tune.schedulers import ASHA, SuccessiveHalving
from bntune.tune.space import Space, default_space
from bntune.tune.study import Study
from bntune.tune.trainable import Trainable
from bntune.tune.trial import FrozenTrial, Trial

__all__ = [
    "ASHA",
    "SAMPLERS",
    "AllTrialsFailed",
    "BabysitView",
    "Checkpoint",
    "Choice",
    "CoarseToFine",
    "DefaultPolicy",
    "Dimension",
    "DivergedTrialsWarning",
    "FailedTrialsWarning",
    "Fixed",
    "FrozenTrial",
    "InlineExecutor",
    "IntLogUniform",
    "IntUniform",
    "LogUniform",
    "MLPTrainable",
    "MedianStopping",
    "OneMinusLogUniform",
    "Pruned",
    "Pruner",
    "ResumedWarning",
    "Rollback",
    "RoundPending",
    "SearchFinished",
    "SetParams",
    "Space",
    "Stepped",
    "Stop",
    "StorageError",
    "Study",
    "StudyLocked",
    "StudyReadOnly",
    "SuccessiveHalving",
    "Trainable",
    "Trial",
    "TrialUsageError",
    "Uniform",
    "default_space",
    "first_order_shares",
    "process_pool",
]
