import pytest
import torch

from captum_iaside.cli.data import EMBEDDED_PHOTOS, embedded_photos, preprocess
from captum_iaside.cli.models import LITE_RESOLUTION, ModelSpecError, load_model

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
