import pytest
import torch

from captum_iaside.cli.data import EMBEDDED_PHOTOS, embedded_photos, preprocess
from captum_iaside.cli.models import LITE_RESOLUTION, ModelSpecError, load_model

from .helpers import tiny_vit_folder

EGYPTIAN_CAT, ESPRESSO = 285, 967


@pytest.mark.parametrize("name", sorted(LITE_RESOLUTION))
def test_embedded_efficientnet_lite_recognises_the_photos(name):
    loaded = load_model(name)
    assert not loaded.model.training and loaded.resolution == LITE_RESOLUTION[name]
    photos = embedded_photos(preprocess(loaded.resolution, loaded.mean, loaded.std), names=["chelsea", "coffee"])
    with torch.no_grad():
        predicted = loaded.model(photos.tensors[0]).argmax(1).tolist()
    assert predicted == [EGYPTIAN_CAT, ESPRESSO]


def test_embedded_photos_are_normalised_squares():
    photos = embedded_photos(preprocess(48, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)))
    x = photos.tensors[0]
    assert x.shape == (len(EMBEDDED_PHOTOS), 3, 48, 48)
    assert -1.0 <= float(x.min()) < -0.5 and 0.5 < float(x.max()) <= 1.0


@pytest.mark.parametrize(
    "spec,match",
    [
        ("resnet", "unknown model 'resnet'"),
        ("torchvision:notanet", "torchvision has no model"),
        ("no_such_module_xyz:make", "cannot import module"),
        ("math:pi", "has no callable 'pi'"),
        ("math:floor", "must be callable without arguments"),
        ("os:getcwd", "returned str, expected a torch.nn.Module"),
    ],
)
def test_bad_model_specs(spec, match):
    with pytest.raises(ModelSpecError, match=match):
        load_model(spec)


def test_timm_models_come_with_timms_data_configuration():
    pytest.importorskip("timm")
    loaded = load_model("timm:resnet18", weights="none")
    again = load_model("timm:resnet18", weights="none")
    assert loaded.name == "timm:resnet18" and loaded.resolution == 224 and loaded.transform is not None
    assert loaded.mean == pytest.approx((0.485, 0.456, 0.406))
    assert all(torch.equal(p, q) for p, q in zip(loaded.model.parameters(), again.model.parameters(), strict=True))
    with pytest.raises(ModelSpecError, match="timm has no model 'resnet181'; did you mean resnet18"):
        load_model("timm:resnet181", weights="none")


def test_hugging_face_folders_load_with_their_processors_size(tmp_path):
    transformers = pytest.importorskip("transformers")
    tiny_vit_folder(tmp_path / "vit", transformers)
    loaded = load_model(f"hf:{tmp_path / 'vit'}")
    assert loaded.name == "hf:vit" and loaded.resolution == 32 and not loaded.model.training
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelSpecError, match="is not a Hugging Face image classifier folder"):
        load_model(f"hf:{tmp_path / 'empty'}")
