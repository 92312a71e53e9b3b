r"""The global run: a data set streamed through per-image games into ψ with its uncertainty.

:func:`~captum_iaside.global_run.design.plan_global` chooses how a budget is spent (the design),
:class:`~captum_iaside.global_run.run.GlobalRun` streams the batches, the accumulators keep
``O(M)`` statistics and the bootstrap, and the run's machinery lives one concern a module:
options, random streams, batches, the state a checkpoint holds, checkpoints, the second pass and
``torch.distributed``. Grouped because together they turn an estimator of one image into an
estimate over a data set; none of it changes a Shapley value.
"""

from captum_iaside.global_run.design import GlobalDesign, plan_global
from captum_iaside.global_run.options import RunOptions
from captum_iaside.global_run.run import GlobalRun, RunOutcome

__all__ = ["GlobalDesign", "GlobalRun", "RunOptions", "RunOutcome", "plan_global"]
