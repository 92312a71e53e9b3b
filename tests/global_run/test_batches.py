import pytest
import torch
from conftest import tiny_cnn
from torch.utils.data import DataLoader, Dataset

from captum_iaside import IASIDE
from captum_iaside.global_run.batches import split_batch


class HuggingFaceStyle(Dataset):
    """Items as the Hugging Face ``datasets`` convention gives them: a dict of pixel values and a label."""

    def __init__(self, images, labels):
        self.images, self.labels = images, labels

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return {"pixel_values": self.images[i], "label": self.labels[i]}


def test_dict_batches_give_the_same_result_as_tuples():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(6, 3, 16, 16, generator=g), torch.tensor([0, 1, 2, 0, 1, 2])
    explainer = IASIDE(tiny_cnn(), bands=4)
    as_dicts = DataLoader(HuggingFaceStyle(x, y), batch_size=4)
    for use_labels in (False, True):
        a = explainer.attribute_global(as_dicts, use_labels=use_labels, n_bootstrap=0)
        b = explainer.attribute_global([(x[:4], y[:4]), (x[4:], y[4:])], use_labels=use_labels, n_bootstrap=0)
        assert torch.allclose(a.values, b.values, atol=1e-6), use_labels


def test_a_dict_batch_without_images_names_its_keys():
    assert split_batch({"image": torch.zeros(1, 3, 4, 4)})[1] is None
    with pytest.raises(TypeError, match=r"keys \['label', 'text'\], but none of \['pixel_values'"):
        split_batch({"text": "a", "label": torch.zeros(1)})


def test_a_hugging_face_classifier_needs_no_wrapper(tmp_path):
    transformers = pytest.importorskip("transformers")
    from cli.helpers import tiny_vit_folder

    model = transformers.AutoModelForImageClassification.from_pretrained(tiny_vit_folder(tmp_path, transformers))
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(4, 3, 32, 32, generator=g), torch.tensor([0, 1, 2, 1])
    result = IASIDE(model.eval(), bands=4).attribute_global(
        DataLoader(HuggingFaceStyle(x, y), batch_size=2), use_labels=True, n_bootstrap=0
    )
    local = IASIDE(lambda t: model(pixel_values=t).logits, bands=4).attribute(x, target=y)
    assert torch.allclose(result.values.float(), local.mean(0), atol=1e-5)


@pytest.mark.parametrize(
    "labels, count",
    [(torch.tensor([1]), "1"), (torch.tensor([0, 1, 2, 0, 1]), "5"), ([2], "1"), (torch.tensor(1), "a single")],
)
def test_labels_of_another_length_than_the_images_are_refused(labels, count):
    x = torch.randn(3, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match=f"batch 0 holds 3 images and {count} labels"):
        IASIDE(tiny_cnn(), bands=4).attribute_global([(x, labels)], use_labels=True, n_bootstrap=0)
