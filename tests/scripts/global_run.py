"""A global run in its own process, for the checkpoint (SIGKILL) and torch.distributed tests.

usage: global_run.py OUT.pt [--baseline NAME] [--checkpoint PATH] [--kill-at-batch K]
                          [--max-evaluations F] [--tolerance T] [--interactions]
                          [--distributed RANK WORLD INIT_FILE [--unequal]]

With --unequal, rank 0 holds 16 images and rank 1 holds 8: their data end at different steps.
"""

import argparse
import os
import signal
import sys

import torch
from torch.utils.data import DataLoader, Subset, TensorDataset
from torch.utils.data.distributed import DistributedSampler

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from conftest import tiny_cnn  # noqa: E402

from captum_iaside import IASIDE  # noqa: E402

torch.set_num_threads(1)


def dataset():
    g = torch.Generator().manual_seed(11)
    return TensorDataset(torch.randn(24, 3, 16, 16, generator=g), torch.randint(0, 5, (24,), generator=g))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--baseline", default="zero")
    p.add_argument("--checkpoint")
    p.add_argument("--kill-at-batch", type=int)
    p.add_argument("--max-evaluations", type=int)
    p.add_argument("--tolerance", type=float)
    p.add_argument("--distributed", nargs=3)
    p.add_argument("--unequal", action="store_true")
    p.add_argument("--interactions", action="store_true")
    p.add_argument("--nccl", action="store_true", help="one CUDA device per rank, nccl instead of gloo")
    args = p.parse_args()
    model = tiny_cnn()
    device = None
    model.batch, model.calls = -1, 0
    if args.kill_at_batch is not None:

        def die_in_batch(module, inputs):  # SIGKILL at the second forward of batch K: mid-batch
            module.calls += 1
            if module.batch == args.kill_at_batch and module.calls == 2:
                os.kill(os.getpid(), signal.SIGKILL)

        model.register_forward_pre_hook(die_in_batch)
    ds = dataset()
    sampler = None
    if args.distributed:
        rank, world, init = int(args.distributed[0]), int(args.distributed[1]), args.distributed[2]
        if args.nccl:
            device = torch.device("cuda", rank)
            torch.cuda.set_device(device)
            model = model.to(device)
        backend = "nccl" if args.nccl else "gloo"
        torch.distributed.init_process_group(backend, init_method=f"file://{init}", rank=rank, world_size=world)
        if args.unequal:
            ds = Subset(ds, range(16) if rank == 0 else range(16, 24))
        else:
            sampler = DistributedSampler(ds, shuffle=False)

    class MarkedLoader(DataLoader):  # tells the model which batch it is in
        def __iter__(self):
            for k, batch in enumerate(super().__iter__()):
                model.batch, model.calls = k, 0
                yield batch

    res = IASIDE(model, bands=4, baseline=args.baseline).attribute_global(
        MarkedLoader(ds, batch_size=4, sampler=sampler),
        perturbations_per_eval=16,
        checkpoint=args.checkpoint,
        by_class=True,
        seed=5,
        max_evaluations=args.max_evaluations,
        tolerance=args.tolerance,
        interactions=args.interactions,
        device=device,
    )
    torch.save(
        {
            "values": res.values,
            "stderr": res.stderr,
            "n": res.n_samples,
            "srs_ci": res.srs_ci,
            "sid_ci": res.sid_ci,
            "v_full": res.v_full,
            "by_class": res.by_class,
            "config": dict(res.config),
            "stop_reason": res.stop_reason,
            "interactions": res.interactions,
            "interactions_stderr": res.interactions_stderr,
        },
        args.out,
    )
    if args.distributed:
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()
