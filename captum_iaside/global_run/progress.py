r"""The progress of a global run: one bar per model, in whole coalitions, with the images done beside them.

Each bar counts the coalitions played (one coalition of one image is one), so it moves with every
forward, and its total is the images the design plans times the coalitions each costs. The images
finished so far are whole numbers beside it, and the estimated time left is a slowly smoothed average
(the first forwards, which pay for set-up and for measuring forward sizes, do not make it swing). Only
rank 0 of a ``torch.distributed`` run shows bars.
"""

from __future__ import annotations

from collections.abc import Callable

from tqdm import tqdm

#: tqdm's smoothing of the rate behind the time left (0: the average since the start, 1: the last update).
SMOOTHING = 0.05

_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} coalitions [{elapsed}<{remaining}{postfix}]"


class RunProgress:
    r"""
    The bars of a run's models (a context manager that closes them).

    Args:
        names (list of str): The models, one bar each.
        n_images (int, optional): Images the design plans (None: unknown, a stream).
        per_image (int): Coalitions each image costs.
        images_done (int): Images already done (a resumed run).
        label (str): What the bars are of (``"I-ASIDE (global)"``).
        show (bool): Whether to show them (False on ranks other than 0).
    """

    def __init__(
        self, names: list[str], n_images: int | None, per_image: int, images_done: int, label: str, show: bool
    ) -> None:
        self.n_images, self.per_image, self.shown = n_images, per_image, show
        total = None if n_images is None else n_images * per_image
        single = len(names) == 1
        self.bars = {
            name: tqdm(
                total=total,
                initial=images_done * per_image,
                desc=label if single else f"{label} {name}",
                smoothing=SMOOTHING,
                bar_format=_FORMAT,
                position=None if single else i,
                disable=not show,
            )
            for i, name in enumerate(names)
        }
        for bar in self.bars.values():
            bar.set_postfix_str(self._images(images_done), refresh=False)

    def _images(self, done: int) -> str:
        return f"images {done}/{'?' if self.n_images is None else self.n_images}"

    def game(self, name: str, n_images: int) -> Callable[[int], None]:
        r"""The progress callback of a game of ``n_images`` images of model ``name`` (coalitions per image)."""
        bar = self.bars[name]
        return lambda coalitions: bar.update(coalitions * n_images)

    def batch_done(self, images_done: int, notes: dict[str, str]) -> None:
        r"""Set every bar to ``images_done`` whole images, with each model's ``notes`` beside them."""
        for name, bar in self.bars.items():
            bar.n = max(bar.n, images_done * self.per_image)
            if bar.total is not None and bar.n > bar.total:
                bar.total = bar.n
            bar.set_postfix_str(f"{self._images(images_done)}, {notes.get(name, '')}".rstrip(", "))

    def __enter__(self) -> RunProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        for bar in self.bars.values():
            bar.close()
