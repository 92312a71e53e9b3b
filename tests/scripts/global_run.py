"""A global run in its own process, for the checkpoint (SIGKILL) and torch.distributed tests.

usage: global_run.py OUT.pt [--baseline NAME] [--checkpoint PATH] [--kill-at-batch K]
                          [--distributed RANK WORLD INIT_FILE]
"""

import argparse
import os
import signal
import sys

import torch
from torch.utils.data import DataLoader, TensorDataset
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
    p.add_argument("--distributed", nargs=3)
    args = p.parse_args()
    model = tiny_cnn()
    if args.kill_at_batch is not None:

        def die_at_batch(module, inputs):  # one forward per batch here: SIGKILL inside batch K
            if module.calls == args.kill_at_batch:
                os.kill(os.getpid(), signal.SIGKILL)
            module.calls += 1

        model.calls = 0
        model.register_forward_pre_hook(die_at_batch)
    ds = dataset()
    sampler = None
    if args.distributed:
        rank, world, init = int(args.distributed[0]), int(args.distributed[1]), args.distributed[2]
        torch.distributed.init_process_group("gloo", init_method=f"file://{init}", rank=rank, world_size=world)
        sampler = DistributedSampler(ds, shuffle=False)
    loader = DataLoader(ds, batch_size=4, sampler=sampler)
    res = IASIDE(model, bands=4, baseline=args.baseline).attribute_global(
        loader, perturbations_per_eval=16, checkpoint=args.checkpoint, by_class=True, seed=5
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
        },
        args.out,
    )
    if args.distributed:
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()
