"""The released robustness data read from their layouts on disk (tiny fake trees and arrays), the accuracy on them
by hand, and every layout error before any image is read."""

import numpy as np
import pytest
import torch
from PIL import Image

from captum_iaside.robustness.released import (
    ArrayImages,
    cifar10_c_sets,
    imagenet_c_sets,
    ood_set,
    released_accuracy,
)

WNIDS = ["n01440764", "n01443537", "n01484850"]  # the model's classes, in the order of its outputs


def png(path, value):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((8, 8, 3), value, dtype=np.uint8)).save(path)


@pytest.fixture
def imagenet_c(tmp_path):
    root = tmp_path / "ImageNet-C"
    for corruption in ("fog", "snow"):
        for severity in (1, 2, 3, 4, 5):
            for c, wnid in enumerate(WNIDS[1:]):  # two of the model's three classes
                for i in range(2):
                    png(root / corruption / str(severity) / wnid / f"{i}.JPEG", 40 * (c + 1) + i)
    return root


def brightness_class(x):
    """A model of three classes that reads the class off the image's brightness (40 -> 1, 80 -> 2)."""
    level = (x.float().mean(dim=(1, 2, 3)) * 255 / 40).round().clamp(0, 2).long()
    return torch.nn.functional.one_hot(level, 3).float()


def test_imagenet_c_folders_map_to_the_models_classes_by_name(imagenet_c):
    sets = imagenet_c_sets(str(imagenet_c), corruptions=["fog", "snow"], severities=(1, 5), classes=WNIDS)
    assert sorted(sets) == ["fog@1", "fog@5", "snow@1", "snow@5"]
    labels = sorted(label for _, label in sets["fog@5"])
    assert labels == [1, 1, 2, 2]  # the folders' positions in the model's classes, not their sorted order (0, 1)
    default = imagenet_c_sets(str(imagenet_c), corruptions=["fog"], severities=(1,))
    assert sorted(label for _, label in default["fog@1"]) == [0, 0, 1, 1]  # ImageFolder's order without classes


def test_the_accuracy_on_released_sets_by_hand(imagenet_c):
    import torchvision.transforms.v2 as v2

    transform = v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32, scale=True)])
    sets = imagenet_c_sets(str(imagenet_c), transform, corruptions=["fog"], severities=(2,), classes=WNIDS)
    acc = released_accuracy({"bright": brightness_class, "zero": lambda x: torch.eye(3)[[0] * len(x)]}, sets, 3)
    assert acc == {"bright": {"fog@2": 1.0}, "zero": {"fog@2": 0.0}}  # 40, 41 -> 1; 80, 81 -> 2
    assert released_accuracy(brightness_class, sets, batch_size=1) == {"fog@2": 1.0}


def test_cifar10_c_arrays_by_severity(tmp_path):
    n = 4
    images = np.stack([np.full((8, 8, 3), 10 * s + i, dtype=np.uint8) for s in range(5) for i in range(n)])
    np.save(tmp_path / "gaussian_noise.npy", images)
    np.save(tmp_path / "labels.npy", np.arange(n) % 3)
    sets = cifar10_c_sets(str(tmp_path), severities=(1, 3))
    assert sorted(sets) == ["gaussian_noise@1", "gaussian_noise@3"]
    x, y = sets["gaussian_noise@3"][2]
    assert x.shape == (3, 8, 8) and torch.allclose(x, torch.full((3, 8, 8), 22 / 255)) and y == 2
    np.save(tmp_path / "labels.npy", np.tile(np.arange(n) % 3, 5))  # the release repeats the labels per severity
    assert [label for _, label in cifar10_c_sets(str(tmp_path))["gaussian_noise@5"]] == [0, 1, 2, 0]


def test_an_ood_folder_of_a_subset_of_the_classes(tmp_path):
    for i, wnid in enumerate(["n01484850", "n01440764"]):
        png(tmp_path / "ood" / wnid / "a.png", 40 * (2 - i))
    data = ood_set(str(tmp_path / "ood"), classes=WNIDS)
    assert sorted(label for _, label in data) == [0, 2]
    png(tmp_path / "ood" / "n99999999" / "a.png", 0)
    with pytest.raises(ValueError, match="the folders n99999999 name no class of the model"):
        ood_set(str(tmp_path / "ood"), classes=WNIDS)


def test_layout_errors_are_named_before_any_image_is_read(imagenet_c, tmp_path):
    with pytest.raises(ValueError, match=r"lacks the corruption folders \['frost'\]"):
        imagenet_c_sets(str(imagenet_c), corruptions=["fog", "frost"])
    with pytest.raises(ValueError, match=r"severities must be among \[1, 2, 3, 4, 5\], got \[0, 6\]"):
        imagenet_c_sets(str(imagenet_c), corruptions=["fog"], severities=(0, 6))
    (imagenet_c / "fog" / "5").rename(imagenet_c / "fog" / "x")
    with pytest.raises(ValueError, match="fog has no folder of severity 5"):
        imagenet_c_sets(str(imagenet_c), corruptions=["fog"])
    with pytest.raises(ValueError, match="the folders n01443537, n01484850 name no class of the model"):
        imagenet_c_sets(str(imagenet_c), corruptions=["snow"], classes=["cat", "dog"])
    with pytest.raises(ValueError, match="is not a folder"):
        imagenet_c_sets(str(tmp_path / "nowhere"))
    arrays = tmp_path / "cifar"
    arrays.mkdir()
    np.save(arrays / "fog.npy", np.zeros((12, 8, 8, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="has no labels.npy"):
        cifar10_c_sets(str(arrays))
    np.save(arrays / "labels.npy", np.zeros(3, dtype=np.int64))
    with pytest.raises(ValueError, match=r"fog.npy holds \(12, 8, 8, 3\) uint8, not 5 severities"):
        cifar10_c_sets(str(arrays))
    np.save(arrays / "fog.npy", np.zeros((10, 8, 8, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="holds 5 x 2 images but labels.npy 3 labels"):
        cifar10_c_sets(str(arrays))


def test_array_images_go_through_the_transform():
    data = ArrayImages(np.zeros((2, 4, 4, 3), dtype=np.uint8), np.array([1, 0]), transform=lambda t: t.shape)
    assert data[0] == (torch.Size([3, 4, 4]), 1) and len(data) == 2


def test_an_ood_set_is_scored_over_its_own_classes_when_asked(imagenet_c):
    import torchvision.transforms.v2 as v2

    transform = v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32, scale=True)])
    sets = imagenet_c_sets(str(imagenet_c), transform, corruptions=["fog"], severities=(2,), classes=WNIDS)
    zero = lambda x: torch.eye(3)[[0] * len(x)]  # noqa: E731 - always class 0, which the set lacks
    # over all three outputs class 0 wins and every image is wrong; over the set's classes 1 and 2 (scores 0 and 0,
    # the first of them chosen) the class-1 images are right
    assert released_accuracy(zero, sets, 4) == {"fog@2": 0.0}
    assert released_accuracy(zero, sets, 4, classes={"fog@2": [1, 2]}) == {"fog@2": 0.5}
    with pytest.raises(ValueError, match="classes names sets that sets lacks"):
        released_accuracy(zero, sets, 4, classes={"snow@1": [1]})
    with pytest.raises(ValueError, match="no class"):
        released_accuracy(zero, sets, 4, classes={"fog@2": []})


def test_batches_whose_images_were_all_skipped_count_for_nothing():
    model = lambda x: torch.eye(2)[[1] * len(x)]  # noqa: E731
    batches = [(torch.empty(0), torch.empty(0, dtype=torch.int64)), (torch.rand(2, 3, 4, 4), torch.tensor([1, 0]))]
    assert released_accuracy(model, {"clean": batches}) == {"clean": 0.5}
