r"""The typed errors of the package, to catch by type rather than by message."""

from __future__ import annotations


class NonFiniteValueError(ValueError):
    r"""
    The model output, or the value computed from it, is not finite for an image and a coalition.

    Attributes:
        image (int): The image's index in its batch.
        coalition (list of int): The bands the coalition keeps.
        batch (int or None): The batch of a global run (None for a single call).
        model (str or None): The model's name in a comparison (None for a single model).
    """

    def __init__(
        self, message: str, image: int, coalition: list[int], batch: int | None = None, model: str | None = None
    ) -> None:
        super().__init__(message)
        self.image = image
        self.coalition = coalition
        self.batch = batch
        self.model = model

    def located(self, batch: int, model: str | None) -> NonFiniteValueError:
        r"""The same error, naming the batch (and the model) of a global run."""
        where = f"batch {batch} of the data" + ("" if model is None else f", model {model!r}")
        return NonFiniteValueError(f"{self.args[0]} ({where})", self.image, self.coalition, batch, model)


class StrataLabelsError(ValueError):
    r"""
    The labels a batch holds differ from the data set's labels that ``strata="target"`` read before the run
    (a ``collate_fn`` that leaves images out shifts every later image's stratum).

    Attributes:
        offset (int): The position in the data of the batch's first image.
    """

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset
