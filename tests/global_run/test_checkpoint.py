import os

import pytest
import torch
from conftest import tiny_cnn

from captum_iaside import IASIDE
from captum_iaside.global_run.checkpoint import CHECKPOINT_FORMAT, save_checkpoint


def batches(seed=0, n=3):
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(4, 3, 16, 16, generator=g), torch.tensor([0, 1, 2, 3])) for _ in range(n)]


class Killed(Exception):
    pass


def stream(data, stop=None):
    r"""The batches as a stream of unknown length, killed after ``stop`` batches."""
    for k, batch in enumerate(data):
        if k == stop:
            raise Killed
        yield batch


def interrupted(ia, data, ckpt, stop=1, **kw):
    r"""Run until killed after ``stop`` batches, then return the checkpoint's bytes."""
    with pytest.raises(Killed):
        ia.attribute_global(stream(data, stop), checkpoint=ckpt, n_bootstrap=0, **kw)
    with open(ckpt, "rb") as fh:
        return fh.read()


def test_two_plain_functions_are_told_apart_by_what_they_do(tmp_path):
    a, b = tiny_cnn(seed=0), tiny_cnn(seed=1)
    ckpt = str(tmp_path / "run.ckpt")
    before = interrupted(IASIDE(lambda t: a(t), bands=4), batches(), ckpt)
    with pytest.raises(ValueError, match="behaves differently.*v\\(N\\)|behaves differently.*v\\(∅\\)"):
        IASIDE(lambda t: b(t), bands=4).attribute_global(stream(batches()), checkpoint=ckpt, n_bootstrap=0)
    assert open(ckpt, "rb").read() == before
    same = IASIDE(lambda t: a(t), bands=4).attribute_global(stream(batches()), checkpoint=ckpt, n_bootstrap=0)
    fresh = IASIDE(a, bands=4).attribute_global(batches(), n_bootstrap=0, strata=None)
    assert torch.equal(same.values, fresh.values)


def test_later_batches_that_differ_are_refused_naming_the_first(tmp_path, model):
    ckpt = str(tmp_path / "run.ckpt")
    data = batches()
    before = interrupted(IASIDE(model, bands=4), data, ckpt, stop=2)
    other = [data[0], batches(seed=5)[1], data[2]]  # the same first batch, another second one
    with pytest.raises(ValueError, match="batch 1 of the data differs"):
        IASIDE(model, bands=4).attribute_global(stream(other), checkpoint=ckpt, n_bootstrap=0)
    assert open(ckpt, "rb").read() == before


@pytest.mark.parametrize(
    "change",
    [
        {"baselines": torch.full((1, 3, 16, 16), 0.7)},  # a tensor baseline, by its values
        {"bands": 5},
        {"value": "prob"},
        {"n_samples": 7},
        {"use_labels": False},
        {"max_evaluations": 500},
        {"tolerance": 0.5},
        {"n_bootstrap": 5},
        {"by_class": True},
        {"seed": 1},
        {"estimator": "permutation", "budget": 8},
    ],
    ids=lambda c: next(iter(c)),
)
def test_every_option_that_changes_the_result_is_fingerprinted(tmp_path, model, change):
    ckpt = str(tmp_path / "run.ckpt")
    base = {"baselines": torch.zeros(1, 3, 16, 16)}
    ia = IASIDE(model, bands=4)
    ia.attribute_global(batches()[:1], checkpoint=ckpt, **base)
    before = open(ckpt, "rb").read()
    kwargs = base | change
    bands = kwargs.pop("bands", 4)
    value = kwargs.pop("value", "log_prob")
    with pytest.raises(ValueError, match="different run|behaves differently"):
        IASIDE(model, bands=bands, value=value).attribute_global(batches()[:1], checkpoint=ckpt, **kwargs)
    assert open(ckpt, "rb").read() == before


def test_a_callable_value_of_the_same_name_is_told_apart(tmp_path, model):
    def score(output, target):
        return output[:, 0]

    ckpt = str(tmp_path / "run.ckpt")
    interrupted(IASIDE(model, bands=4, value=score), batches(), ckpt)

    def score(output, target):  # noqa: F811 - the same name, another value
        return output[:, 1]

    with pytest.raises(ValueError, match="behaves differently"):
        IASIDE(model, bands=4, value=score).attribute_global(stream(batches()), checkpoint=ckpt, n_bootstrap=0)


def test_a_checkpoint_of_another_format_is_one_sentence_and_kept(tmp_path, model):
    ckpt = tmp_path / "old.ckpt"
    torch.save({"fingerprint": {}, "state": {}}, ckpt)  # the layout before format 2
    with pytest.raises(ValueError, match="another version of captum-iaside") as info:
        IASIDE(model, bands=4).attribute_global(batches(), checkpoint=str(ckpt))
    assert "\n" not in str(info.value) and torch.load(ckpt) == {"fingerprint": {}, "state": {}}
    previous = {"format": CHECKPOINT_FORMAT - 1, "captum_iaside_version": "0.3.0", "fingerprint": {}, "state": {}}
    torch.save(previous, ckpt)  # the format before the current one: refused the same way, not misread
    with pytest.raises(ValueError, match="another version of captum-iaside"):
        IASIDE(model, bands=4).attribute_global(batches(), checkpoint=str(ckpt))


def test_temporary_files_of_killed_saves_do_not_accumulate(tmp_path, model):
    import subprocess
    import sys

    ckpt = str(tmp_path / "run.ckpt")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    open(f"{ckpt}.tmp-{dead.stdout.strip()}", "w").write("half a save of a process that was killed")
    live = f"{ckpt}.tmp-{os.getppid()}"  # a process that is running: its save may be under way
    open(live, "w").write("a save under way")
    IASIDE(model, bands=4).attribute_global(batches(), checkpoint=ckpt, n_bootstrap=0)
    save_checkpoint(ckpt, torch.load(ckpt, weights_only=True))
    assert sorted(os.listdir(tmp_path)) == sorted(["run.ckpt", os.path.basename(live)])


@pytest.mark.parametrize(
    "path, match",
    [("", "empty path"), (".", "is a folder"), ("file.txt/run.ckpt", "which is a file"), (3, "file path")],
)
def test_the_checkpoint_path_is_checked_before_any_work(tmp_path, path, match, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "file.txt").write_text("x")
    calls = []
    model = tiny_cnn()
    model.register_forward_pre_hook(lambda m, i: calls.append(1))
    with pytest.raises((ValueError, TypeError), match=match):
        IASIDE(model, bands=4).attribute_global(batches(), checkpoint=path)
    assert not calls


def test_an_unwritable_checkpoint_folder_is_found_before_any_work(tmp_path, model):
    if os.geteuid() == 0:
        pytest.skip("root writes everywhere")
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    with pytest.raises(ValueError, match="not writable"):
        IASIDE(model, bands=4).attribute_global(batches(), checkpoint=str(folder / "run.ckpt"))


def test_a_second_pass_over_data_in_another_order_is_refused_without_a_checkpoint(model):
    data = batches()

    class Rotating:  # a re-iterable whose order changes from one pass to the next
        passes = 0

        def __iter__(self):
            self.passes += 1
            k = self.passes - 1
            return iter(data[k:] + data[:k])

    with pytest.raises(ValueError, match="batch 0 of the data differs from the batch 0 the first pass read"):
        IASIDE(model, bands=4).attribute_global(Rotating(), max_evaluations=200, n_bootstrap=0)
    same = IASIDE(model, bands=4).attribute_global(stream_twice(data), max_evaluations=200, n_bootstrap=0)
    assert same.config["passes"] == 2


def stream_twice(data):
    class Again:  # re-iterable, length unknown
        def __iter__(self):
            return iter(data)

    return Again()


def test_a_run_whose_first_batch_is_empty_resumes(tmp_path, model):
    ckpt = str(tmp_path / "run.ckpt")
    data = [(torch.empty(0, 3, 16, 16), torch.empty(0, dtype=torch.int64)), *batches()]
    interrupted(IASIDE(model, bands=4), data, ckpt, stop=2)
    resumed = IASIDE(model, bands=4).attribute_global(stream(data), checkpoint=ckpt, n_bootstrap=0)
    fresh = IASIDE(model, bands=4).attribute_global(stream(data), n_bootstrap=0)
    assert torch.equal(resumed.values, fresh.values)


def test_a_finished_checkpoint_is_returned_only_for_the_data_it_was_computed_from(tmp_path, model):
    ia, ckpt = IASIDE(model, bands=4), str(tmp_path / "run.ckpt")
    data = batches(n=2)
    # strata=None: the data in their own order (a stratified order would move the changed images to the front,
    # where the fingerprint of the first batch refuses them before the finished check is reached)
    kwargs = {"checkpoint": ckpt, "n_bootstrap": 0, "strata": None}
    first = ia.attribute_global(stream_twice(data), **kwargs)  # length unknown: only the batches tell
    again = ia.attribute_global(stream_twice(data), **kwargs)  # the same data: the stored result
    assert torch.allclose(again.values, first.values) and again.n_samples == 8
    saved = open(ckpt, "rb").read()
    zeroed = [data[0], (torch.zeros_like(data[1][0]), data[1][1])]  # the last batch changed
    with pytest.raises(ValueError, match="batch 1 of the data differs from the batch 1 the checkpoint"):
        ia.attribute_global(stream_twice(zeroed), **kwargs)
    with pytest.raises(ValueError, match=r"hold more than the 2 batches \(8 images\) that the finished checkpoint"):
        ia.attribute_global(stream(batches(n=3)), **kwargs)  # more images, length unknown
    with pytest.raises(ValueError, match="the data end after 1 batches"):
        ia.attribute_global(stream(batches(n=1)), **kwargs)
    assert open(ckpt, "rb").read() == saved  # left untouched


def test_a_run_stopped_by_n_samples_is_not_refused_for_images_it_never_read(tmp_path, model):
    ia, ckpt = IASIDE(model, bands=4), str(tmp_path / "run.ckpt")
    first = ia.attribute_global(stream(batches(n=2)), checkpoint=ckpt, n_samples=4, n_bootstrap=0)
    again = ia.attribute_global(stream(batches(n=3)), checkpoint=ckpt, n_samples=4, n_bootstrap=0)
    assert again.n_samples == 4 and torch.allclose(again.values, first.values)


def test_a_checkpoint_path_that_takes_no_file_is_refused_before_any_forward(tmp_path, model):
    calls = []

    def counting(x):
        calls.append(1)
        return model(x)

    with pytest.raises(ValueError, match="checkpoint='/proc/x.ckpt' cannot be written"):
        IASIDE(counting, bands=4).attribute_global(batches(), checkpoint="/proc/x.ckpt")
    assert not calls and not os.path.exists("/proc/x.ckpt.tmp-" + str(os.getpid()))
