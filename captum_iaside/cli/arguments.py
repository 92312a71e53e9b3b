r"""The command line's arguments: the parser, its choices and the checks argparse makes."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, NoReturn

from captum_iaside import __version__
from captum_iaside._utils.checks import check_int, check_open_unit, check_positive, check_positive_int, check_seed
from captum_iaside._utils.sizes import parse_memory

DEFAULT_MODEL = "efficientnet-lite0"


#: Resolution of the embedded photos (the default run: M = 8, 7 photos, 256 coalitions each).
EMBEDDED_RESOLUTION = 160


#: PGD's steps by default (``--pgd-steps``).
PGD_STEPS = 10


#: The choices the parser offers; tests check that they match the library's own lists.
VALUE_CHOICES = ("log_prob", "prob", "logit", "correct")


ESTIMATOR_CHOICES = ("auto", "exact", "permutation", "kernel", "kadd", "kadd3", "adaptive")


BASELINE_CHOICES = ("zero", "shuffle", "gaussian", "mean")


AMP_CHOICES = ("bfloat16", "float16")


class _HelpFormatter(argparse.HelpFormatter):
    r"""Adds ``(default: X)`` once, for options whose default is set and not already in the text."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        unset = action.default is None or action.default is False or action.default == argparse.SUPPRESS
        if "default" in text or unset or not action.option_strings:
            return text
        return f"{text} (default: {action.default})"


def _checked(convert: Callable[[str], Any], check: Callable[[Any, str], Any], expected: str) -> Callable[[str], Any]:
    r"""
    An argparse ``type``: the text converted (``int``, ``float``) and checked by the library's own ``check`` (the one
    its Python arguments pass), with one line saying what was ``expected``.
    """

    def parse(text: str) -> Any:
        try:
            return check(convert(text), "value")
        except (TypeError, ValueError) as exc:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text}") from exc

    return parse


_positive = _checked(int, check_positive_int, "a positive integer")
_seed = _checked(int, check_seed, "an integer of 0 or more")
_step = _checked(int, lambda value, name: check_int(value, name, minimum=0), "a step: an integer of 0 or more")
_replicates = _checked(int, lambda value, name: check_int(value, name, minimum=0), "an integer of 0 or more")
_probability = _checked(float, check_open_unit, "a number in (0, 1)")


def _forward_size(text: str) -> int | str:
    return "auto" if text == "auto" else _positive(text)


def _memory(text: str) -> int:
    try:
        return parse_memory(text, "--max-memory")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


class _Parser(argparse.ArgumentParser):
    r"""An argument parser whose errors are one line (and a pointer to ``--help``), not the usage."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _model_arg(text: str) -> tuple[str, object]:
    r"""``KEY=VALUE`` of ``--model-arg``: VALUE is read as a Python literal (10, 0.5, True, "x"), else as text."""
    import ast

    key, sep, raw = text.partition("=")
    if not sep or not key.strip().isidentifier():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE (e.g. num_classes=10), got {text!r}")
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        value = raw
    return key.strip(), value


def _severity(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 5:
        raise argparse.ArgumentTypeError(f"expected a severity of 1 to 5, got {text}")
    return value


_epsilon = _checked(float, check_positive, "a positive radius (images in [0, 1]), e.g. 0.0039")


def _named_folder(text: str) -> tuple[str, str]:
    r"""``NAME=DIR`` of ``--ood``."""
    name, sep, path = text.partition("=")
    if not sep or not name.strip() or not path.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=DIR (e.g. imagenet-r=/data/imagenet-r), got {text!r}")
    return name.strip(), path


def _path(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a file path, got an empty string")
    return text


def build_parser() -> argparse.ArgumentParser:
    r"""The argument parser of ``captum-iaside`` (also used to generate the CLI reference)."""
    p = _Parser(
        prog="captum-iaside",
        description=(
            "Global spectral Shapley importance (I-ASIDE) of image classifiers: which frequency bands a "
            "model draws its predictive power from, and its spectral robustness score. Without arguments: "
            "the embedded ImageNet EfficientNet-Lite0 on photos bundled with scikit-image/scikit-learn."
        ),
        formatter_class=_HelpFormatter,
    )
    g = p.add_argument_group("models and data")
    g.add_argument(
        "--model",
        action="append",
        metavar="SPEC",
        help="efficientnet-lite0|1|2 (embedded weights), torchvision:NAME, timm:NAME, hf:FOLDER_OR_ID, a TorchScript "
        f"file, or module:factory; repeat to compare models on the same images (default: {DEFAULT_MODEL})",
    )
    g.add_argument(
        "--steps",
        nargs="+",
        type=_step,
        metavar="N",
        help="read the --model files as checkpoints of one training run at these steps (one per --model, in "
        "order): the report adds psi and SRS against the step and each step minus the one before, paired",
    )
    g.add_argument(
        "--weights",
        default="DEFAULT",
        help="DEFAULT (the zoo's: embedded, downloaded, or the Hugging Face folder's), a torchvision name "
        "(IMAGENET1K_V1), none (random, seeded), or a local state-dict file (.pt, .pth, .safetensors) for any --model",
    )
    g.add_argument(
        "--model-arg",
        action="append",
        type=_model_arg,
        default=[],
        metavar="KEY=VALUE",
        help="keyword argument of timm.create_model, torchvision's get_model or a module:factory "
        "(e.g. num_classes=10); repeat for more; applies to every --model",
    )
    g.add_argument(
        "--allow-pickle",
        action="store_true",
        help="load a torch.save'd full model given as --model (unpickling runs the code the file holds: "
        "only for files you trust)",
    )
    g.add_argument(
        "--data", default="embedded", help="'embedded' (bundled photos) or an image folder (one sub-folder per class)"
    )
    g.add_argument(
        "--labels",
        choices=["predicted", "folder"],
        default="predicted",
        help="explain the model's own prediction, or the folder's class (its sorted index)",
    )
    g.add_argument(
        "--skip-bad-files",
        action="store_true",
        help="leave unreadable image files out, with a warning, instead of stopping",
    )
    g.add_argument("--samples", type=_positive, help="use at most this many images (default: all)")
    g.add_argument(
        "--resolution",
        type=_positive,
        help=f"input side in pixels (default: the model's own; {EMBEDDED_RESOLUTION} for the no-argument run)",
    )
    g = p.add_argument_group("the game")
    g.add_argument("--bands", type=_positive, default=8, help="frequency bands M (rings with --orientations)")
    g.add_argument("--shape", choices=["square", "circle"], default="square", help="band shape (square: the paper's)")
    g.add_argument(
        "--orientations",
        type=_positive,
        metavar="A",
        help="split each of the --bands rings into A orientation sectors over [0, 180) degrees (M = bands x A players)",
    )
    g.add_argument(
        "--grid",
        type=_positive,
        metavar="G",
        help="players: a G x G grid of cells of the centred Fourier plane, each with its mirror (a Shapley Fourier "
        "map; --bands and --shape do not apply)",
    )
    g.add_argument(
        "--interactions",
        nargs="?",
        const="SII",
        choices=["SII", "STII", "Moebius"],
        help="also estimate the mean pairwise interaction index of the players (default SII; exact, M <= 12)",
    )
    g.add_argument("--baseline", choices=BASELINE_CHOICES, default="zero", help="what replaces a removed band")
    g.add_argument("--noise-std", type=float, default=1.0, help="std of the gaussian baseline, in input units")
    g.add_argument("--value", choices=VALUE_CHOICES, default="log_prob", help="value of a coalition")
    g = p.add_argument_group("estimation")
    g.add_argument(
        "--estimator",
        choices=ESTIMATOR_CHOICES,
        default="auto",
        help="Shapley estimator; auto: exact on every image, the design chosen for --max-evaluations, or with "
        "--budget the per-image choice of fit (adaptive)",
    )
    g.add_argument("--budget", type=_positive, help="coalition evaluations per image for a sampling estimator")
    g.add_argument(
        "--max-evaluations",
        type=_positive,
        help="model evaluations for the whole run (per model); the design spreads them where they cut the error most",
    )
    g.add_argument("--tolerance", type=float, help="stop once max stderr / range(psi) falls to this (e.g. 0.05)")
    g.add_argument(
        "--bootstrap",
        type=_replicates,
        default=200,
        metavar="R",
        help="bootstrap replicates behind the intervals (0: none)",
    )
    g.add_argument("--confidence", type=_probability, default=0.95, help="level of the intervals")
    g.add_argument("--by-class", action="store_true", help="also report psi per class (needs class scores)")
    g.add_argument(
        "--strata",
        choices=["auto", "target", "none"],
        default="auto",
        help="stratify the images by their folder's class, so the images a budget reaches represent every class in "
        "proportion and psi is estimated from per-class means (auto: target with --labels folder)",
    )
    g.add_argument("--seed", type=_seed, default=0, help="seed of random baselines, sampling and bootstrap")
    g = p.add_argument_group("execution")
    g.add_argument("--batch-size", type=_positive, default=8, help="images per batch")
    g.add_argument(
        "--perturbations-per-eval",
        type=_forward_size,
        default="auto",
        metavar="N|auto",
        help="coalitions per forward call (a forward holds batch-size x this many images); auto: chosen from "
        "repeated, paired timings and checked again during the run, the smaller of sizes equally fast",
    )
    g.add_argument(
        "--max-memory",
        type=_memory,
        metavar="SIZE",
        help="memory the run may hold, e.g. 2GB or 512MB (resident memory on the CPU, allocated memory on a GPU); "
        "the forward size stays within it (default: half of the memory available, 80%% of a GPU's free memory)",
    )
    g.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, ...")
    g.add_argument("--amp", choices=AMP_CHOICES, help="run the model under torch.autocast with this dtype (GPUs)")
    g.add_argument(
        "--no-tune",
        action="store_true",
        help="leave the process as it is (by default glibc malloc keeps freed memory and models run channels-last)",
    )
    g.add_argument(
        "--compile",
        action="store_true",
        help="torch.compile the models: measured 1.23x faster CPU forwards after about 40 s of compilation, "
        "so it pays on runs of several minutes",
    )
    g.add_argument(
        "--checkpoint", type=_path, metavar="PATH", help="save the run there every batch; the same command resumes it"
    )
    g = p.add_argument_group("robustness (with --data FOLDER --labels folder: accuracies beside the SRS)")
    g.add_argument(
        "--corruptions",
        type=_path,
        metavar="ROOT",
        help="the released corruptions: ImageNet-C's layout ROOT/CORRUPTION/SEVERITY/CLASS/IMAGE (also "
        "Tiny-ImageNet-C, ImageNet-C-bar) or CIFAR-10-C's arrays ROOT/CORRUPTION.npy and ROOT/labels.npy; the class "
        "folders are mapped to --data's",
    )
    g.add_argument(
        "--severities",
        nargs="+",
        type=_severity,
        default=[1, 2, 3, 4, 5],
        metavar="S",
        help="the severities of --corruptions to read (1-5)",
    )
    g.add_argument(
        "--ood",
        action="append",
        type=_named_folder,
        default=[],
        metavar="NAME=DIR",
        help="an out-of-distribution set in ImageFolder's layout (ImageNet-R, -Sketch, -A: its class folders a subset "
        "of --data's); repeat for more",
    )
    g.add_argument(
        "--attack-epsilon",
        nargs="+",
        type=_epsilon,
        metavar="EPS",
        help="accuracy under FGSM and PGD (L-infinity, on images in [0, 1]) at each radius, e.g. 0.0039 (1/255); "
        "the report adds where a PGD perturbation at the largest puts its energy, beside each model's SID",
    )
    g.add_argument("--pgd-steps", type=_positive, default=PGD_STEPS, help="PGD's steps (step size EPS/4)")
    g.add_argument(
        "--reference",
        metavar="alexnet|MODEL",
        help="normalise the corruption errors into CE, mCE and relative mCE by AlexNet's published errors (alexnet; "
        "needs all five severities) or by a model of the run (its name as the report shows it)",
    )
    g.add_argument(
        "--robustness-samples",
        type=_positive,
        metavar="N",
        help="score at most N images of each set (clean, each corruption and severity, each OOD set), spread evenly "
        "over its classes (default: all)",
    )
    g = p.add_argument_group("output")
    g.add_argument("--out", type=_path, default="iaside-report", help="report folder")
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return p
