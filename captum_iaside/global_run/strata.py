r"""Which images a global run visits: strata of the data and an order that represents every stratum.

The error of ψ̂ from ``n`` images is ``(σ²_between + σ²_within) / n`` per band; the first term, the
spread of ``φ(x)`` between images, is the larger on real models and no choice of coalitions reduces
it. Much of it is the spread between classes. With the images' strata (their classes, or any ids)
known before the run, the run visits the images in an order in which every prefix holds each
stratum in proportion to its share ``W_h = N_h / N`` of the data, and estimates
``ψ̂ = Σ_h W_h ψ̂_h`` from the per-stratum means; its variance ``Σ_h W_h² s_h² / n_h`` holds only
the spread *within* strata (proportional allocation, Cochran 1977, ch. 5). Data whose order cannot
be chosen (a stream with stratum ids given) are post-stratified in the order they come.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import DataLoader, IterableDataset, RandomSampler, SequentialSampler, Subset

from captum_iaside.errors import StrataLabelsError
from captum_iaside.global_run.batches import known_images, split_batch
from captum_iaside.global_run.streams import STRATA_STREAM, batch_generator

#: The names ``strata`` takes (besides a tensor of stratum ids).
STRATA_NAMES = ("auto", "target", "none")

_WHERE_LABELS = (
    "a DataLoader over a dataset whose labels are known before reading its images (a TensorDataset of (images, "
    "labels), ImageFolder or a torchvision data set with .targets, a Subset of one) or a list of (images, labels) "
    "batches"
)


@dataclass(frozen=True)
class StrataPlan:
    r"""
    The strata of a global run's images.

    Attributes:
        source (str): ``"target"`` (the data's labels) or ``"tensor"`` (ids given by the user).
        ids (Tensor): ``(K,)`` int64 stratum id of every image, in the order the run's data yield them.
        order (Tensor, optional): The stratified order: positions of the data's images in the order the run
                    reads them (None: the images are post-stratified in the order the data yield them).
    """

    source: str
    ids: Tensor
    order: Tensor | None

    def population(self) -> dict[int, int]:
        r"""Images per stratum id in the data."""
        values, counts = torch.unique(self.ids, return_counts=True)
        return dict(zip(values.tolist(), counts.tolist(), strict=True))

    def config(self) -> dict[str, Any]:
        r"""
        JSON-serialisable description (``config["strata"]``, where the run adds the strata's sizes summed over
        ranks and what its images reached: :meth:`reached`).
        """
        return {
            "source": self.source,
            "allocation": "post-stratified" if self.order is None else "proportional",
            "weights": "known",
        }

    def ids_of(self, offset: int, n: int, labels: Any) -> Tensor:
        r"""
        The stratum ids of the ``n`` images from position ``offset`` of the data; strata by target are checked
        against the labels the batch holds (a ``collate_fn`` that leaves images out would shift every later id).
        """
        ids = self.ids
        if offset + n > ids.numel():
            raise ValueError(
                f"strata has {ids.numel()} ids, but the data yielded more images; give one id per image of the data"
            )
        ids = ids[offset : offset + n]
        if self.source == "target" and isinstance(labels, (Tensor, list, tuple)):
            given = as_labels(labels[:n], n)
            if given is not None and not torch.equal(given, ids):
                raise StrataLabelsError(
                    f"the labels of the batch at image {offset} differ from the data set's labels that strata='target' "
                    "read before the run: does a collate_fn leave images out? Pass strata=None",
                    offset,
                )
        return ids

    def reached(self, acc: Any) -> dict[str, Any]:
        r"""
        ``config["strata"]``: the plan, and the strata that the images of ``acc`` (a merged
        :class:`~captum_iaside.global_run.accumulators.GlobalAccumulator`) reached and the weight of those they
        missed, with a warning where they missed some.
        """
        _, missing = acc.groups()
        config = self.config()
        config["strata"] = len(acc.population)
        config["images"] = sum(acc.population.values())
        config["strata_seen"] = len(acc.strata)
        config["strata_pooled"] = sum(1 for count in acc.counts().values() if count < 2)  # into one group
        config["weight_unseen"] = missing
        if missing > 0:
            warnings.warn(
                f"the images the run reached held none of {config['strata'] - config['strata_seen']} strata "
                f"(weight {missing:.3g} of the data); ψ is estimated over the other strata",
                stacklevel=4,
            )
        return config


def check_strata(strata: Any) -> str | Tensor:
    r"""``strata`` as one of :data:`STRATA_NAMES` or a 1-D int64 tensor, or a clear error naming it."""
    if strata is None:
        return "none"
    if isinstance(strata, str):
        if strata not in STRATA_NAMES:
            raise ValueError(f"strata={strata!r} is not known; expected one of {list(STRATA_NAMES)}, None or a tensor")
        return strata
    if isinstance(strata, Tensor):
        if strata.dim() != 1 or strata.is_floating_point() or strata.is_complex() or strata.dtype == torch.bool:
            raise TypeError(
                f"strata must be a 1-D integer tensor of stratum ids, one per image; got a {strata.dtype} tensor "
                f"of shape {tuple(strata.shape)}"
            )
        if strata.numel() == 0:
            raise ValueError("strata is an empty tensor; give one stratum id per image of the data")
        return strata.detach().to("cpu", torch.int64)
    raise TypeError(
        f"strata must be 'auto', 'target', 'none', None or a tensor of stratum ids, got {type(strata).__name__}"
    )


def dataset_targets(dataset: Any) -> Tensor | None:
    r"""
    The labels of a map-style data set without reading its images: ``.targets`` (ImageFolder and the
    torchvision data sets), the second tensor of a :class:`~torch.utils.data.TensorDataset`, through
    :class:`~torch.utils.data.Subset`; None where they are not known.
    """
    if isinstance(dataset, Subset):
        base = dataset_targets(dataset.dataset)
        return None if base is None else base[torch.as_tensor(list(dataset.indices), dtype=torch.long)]
    labels: Any = getattr(dataset, "targets", None)
    if labels is None and hasattr(dataset, "tensors") and len(dataset.tensors) > 1:
        labels = dataset.tensors[1]
    return None if labels is None else as_labels(labels, len(dataset))


def stratified_order(ids: Tensor, generator: torch.Generator) -> Tensor:
    r"""
    A random order of ``ids``' positions in which every prefix holds each stratum in proportion to its
    size (within one image): the members of stratum ``h``, shuffled, get the keys ``(j + u_h) / N_h``
    (``u_h`` uniform), and the order sorts the keys.

    Args:
        ids (Tensor): ``(K,)`` stratum ids.
        generator (torch.Generator): The random stream.

    Returns:
        ``(K,)`` int64 permutation of ``range(K)``.

    Examples::

        >>> ids = torch.tensor([0] * 6 + [1] * 3)
        >>> order = stratified_order(ids, torch.Generator().manual_seed(0))
        >>> ids[order[:3]].bincount().tolist()  # a third of any prefix is stratum 1
        [2, 1]
    """
    keys = torch.empty(ids.numel(), dtype=torch.float64)
    for h in torch.unique(ids).tolist():
        members = torch.nonzero(ids == h).flatten()
        members = members[torch.randperm(members.numel(), generator=generator)]
        offset = torch.rand((), generator=generator, dtype=torch.float64)
        keys[members] = (torch.arange(members.numel(), dtype=torch.float64) + offset) / members.numel()
    return torch.argsort(keys, stable=True)


def _loader_pool(loader: DataLoader) -> list[int] | None:
    r"""
    The data set indices a loader's sampler yields (None where its batches cannot be rebuilt: an
    iterable data set, or batches from a ``batch_sampler``). Drawing them leaves the global random state
    and the sampler's own generator as they were.
    """
    if isinstance(loader.dataset, IterableDataset) or loader.batch_size is None:
        return None
    sampler = loader.sampler
    n = len(loader.dataset)
    if isinstance(sampler, SequentialSampler) or (
        isinstance(sampler, RandomSampler) and not sampler.replacement and sampler.num_samples == n
    ):
        return list(range(n))  # every image once: the order is the run's to choose
    own = getattr(sampler, "generator", None)
    state = own.get_state() if isinstance(own, torch.Generator) else None
    try:
        with torch.random.fork_rng(devices=[]):
            return [int(i) for i in sampler]
    finally:
        if state is not None:
            own.set_state(state)


def _rebuilt(loader: DataLoader, indices: list[int]) -> DataLoader:
    r"""
    ``loader``'s batches, collation and workers, over ``indices`` in their order (a loader of the same
    class where its constructor takes DataLoader's arguments).
    """
    workers = loader.num_workers
    arguments = {
        "batch_size": loader.batch_size,
        "sampler": indices,
        "num_workers": workers,
        "collate_fn": loader.collate_fn,
        "pin_memory": loader.pin_memory,
        "drop_last": loader.drop_last,
        "timeout": loader.timeout,
        "worker_init_fn": loader.worker_init_fn,
        "multiprocessing_context": loader.multiprocessing_context if workers else None,
        "generator": loader.generator,
        "prefetch_factor": loader.prefetch_factor if workers else None,
        "persistent_workers": loader.persistent_workers if workers else False,
    }
    for name in ("pin_memory_device", "in_order"):  # arguments of newer DataLoaders
        if hasattr(loader, name):
            arguments[name] = getattr(loader, name)
    try:
        return type(loader)(loader.dataset, **arguments)
    except TypeError:
        return DataLoader(loader.dataset, **arguments)


def as_labels(labels: Any, n: int) -> Tensor | None:
    r"""``labels`` as ``(n,)`` int64 class ids, or None where they are not (names, vectors, another length)."""
    try:
        labels = torch.as_tensor(labels)
    except (TypeError, ValueError, RuntimeError):
        return None
    if labels.dim() != 1 or labels.is_floating_point() or labels.is_complex() or labels.numel() != n:
        return None
    return labels.to("cpu", torch.int64)


def _list_labels(batches: Sequence[Any]) -> Tensor | None:
    labels = []
    for batch in batches:
        x, y = split_batch(batch)
        y = None if y is None else as_labels(y, x.shape[0])
        if y is None:
            return None
        labels.append(y)
    return torch.cat(labels) if labels else None


def _rebatched(batches: Sequence[Any], order: Tensor) -> list[Any]:
    r"""The images (and labels) of in-memory ``batches`` in ``order``, in batches of the first one's size."""
    split = [split_batch(b) for b in batches]
    images = torch.cat([x for x, _ in split])
    labels = None if split[0][1] is None else torch.cat([torch.as_tensor(y) for _, y in split])
    size = split[0][0].shape[0]
    out = []
    for start in range(0, order.numel(), size):
        rows = order[start : start + size]
        out.append(images[rows] if labels is None else (images[rows], labels[rows.to(labels.device)]))
    return out


def plan_strata(
    strata: str | Tensor, data: Any, use_labels: bool, seed: int, rank: int
) -> tuple[Any, StrataPlan | None]:
    r"""
    The data a run reads and its strata.

    Args:
        strata (str or Tensor): Checked by :func:`check_strata`.
        data (iterable): One model's data.
        use_labels (bool): Whether the run may use the data's labels.
        seed (int): The run's seed (the stratified order is drawn from it).
        rank (int): This process's rank.

    Returns:
        ``(data, plan)``: the data to read (in stratified order where it can be chosen) and the
        :class:`StrataPlan`, None for an unstratified run.
    """
    if isinstance(strata, str) and strata == "none":
        return data, None
    loader_pool = _loader_pool(data) if isinstance(data, DataLoader) else None
    in_memory = isinstance(data, (list, tuple)) and len(data) > 0
    if isinstance(strata, Tensor):
        ids, source = _given_ids(strata, data, loader_pool), "tensor"
    else:
        labels = None
        if use_labels:
            if loader_pool is not None:
                targets = dataset_targets(data.dataset)
                labels = None if targets is None else targets[torch.as_tensor(loader_pool, dtype=torch.long)]
            elif in_memory:
                labels = _list_labels(data)
        if labels is None:
            if strata == "auto":
                return data, None
            why = (
                "use_labels=False"
                if not use_labels
                else f"the labels of this {type(data).__name__} are not known before the run"
            )
            raise ValueError(
                f"strata='target' stratifies by the data's labels, but {why}; it needs {_WHERE_LABELS}. Pass "
                "strata=<tensor of stratum ids in the data's order>, or strata=None"
            )
        ids, source = labels, "target"
    if loader_pool is None and not in_memory:
        return data, StrataPlan(source, ids, order=None)
    order = stratified_order(ids, batch_generator(seed, rank, 0, 0, STRATA_STREAM))
    return reorder(data, order, loader_pool), StrataPlan(source, ids[order], order)


def reorder(data: Any, order: Tensor, pool: list[int] | None = None) -> Any:
    r"""
    ``data`` (a DataLoader over a map-style data set, or a list of batches) with its images in ``order``
    (positions in the order it yields them); also puts every model's data of a comparison with one data
    set per model in the same order.

    Args:
        data (DataLoader or list): The data.
        order (Tensor): Positions of its images, in the order to read them.
        pool (list, optional): The data set indices a DataLoader's sampler yields, if drawn already (a
                    random sampler draws other ones each time).
    """
    if pool is None and isinstance(data, DataLoader):
        pool = _loader_pool(data)
    n = len(pool) if pool is not None else known_images(data) if isinstance(data, (list, tuple)) else None
    if n != order.numel():
        raise ValueError(
            "strata with one data set per model need every model's data to be a DataLoader over a map-style "
            f"dataset or a list of batches with the same {order.numel()} images; pass strata=None"
        )
    if pool is not None:
        return _rebuilt(data, [pool[i] for i in order.tolist()])
    return _rebatched(data, order)


def _given_ids(strata: Tensor, data: Any, loader_pool: list[int] | None) -> Tensor:
    r"""A user's stratum ids, per image of a loader's data set or in the order other data yield them."""
    if isinstance(data, DataLoader) and loader_pool is None and not isinstance(data.dataset, IterableDataset):
        raise ValueError(
            "strata as a tensor needs a DataLoader with a batch_size (its batch_sampler decides the order of the "
            "images, which the ids cannot follow); pass DataLoader(dataset, batch_size=...) or strata=None"
        )
    if loader_pool is not None:
        n = len(data.dataset)
        if strata.numel() != n:
            raise ValueError(
                f"strata has {strata.numel()} ids, but the DataLoader's dataset holds {n} images; give one id per "
                "image of the dataset, in its index order"
            )
        return strata[torch.as_tensor(loader_pool, dtype=torch.long)]
    n = known_images(data)
    if n is not None and strata.numel() != n:
        raise ValueError(
            f"strata has {strata.numel()} ids, but the data yield {n} images; give one id per image, in the order "
            "the data yield them"
        )
    return strata


def stratify(
    data: Any, names: list[str], strata: str | Tensor | None, use_labels: bool, seed: int, rank: int
) -> tuple[Any, StrataPlan | None]:
    r"""
    The data of the models ``names`` in stratified order where they can be put in it (every model's alike), and
    the plan (None: not stratified).
    """
    own = data[names[0]] if isinstance(data, dict) and names[0] in data else data
    ordered, plan = plan_strata(strata, own, use_labels, seed, rank)
    if plan is not None and plan.order is not None and isinstance(data, dict):
        try:
            ordered = {n: ordered if n == names[0] else reorder(d, plan.order) for n, d in data.items()}
        except ValueError:
            if not (isinstance(strata, str) and strata == "auto"):
                raise
            ordered, plan = data, None  # the other models' data cannot follow: not stratified
    return (data if plan is None or plan.order is None else ordered), plan
