import re
import sys

import pytest
import torch
from cli.helpers import tiny_vit_folder
from torch import nn

from captum_iaside.cli.data import embedded_photos, preprocess
from captum_iaside.models import ModelSpecError, load_model
from captum_iaside.models.lite import LITE_RESOLUTION

EGYPTIAN_CAT, ESPRESSO = 285, 967


@pytest.mark.parametrize("name", sorted(LITE_RESOLUTION))
def test_embedded_efficientnet_lite_recognises_the_photos(name):
    loaded = load_model(name)
    assert not loaded.model.training and loaded.resolution == LITE_RESOLUTION[name]
    photos = embedded_photos(preprocess(loaded.resolution, loaded.mean, loaded.std), names=["chelsea", "coffee"])
    with torch.no_grad():
        predicted = loaded.model(photos.tensors[0]).argmax(1).tolist()
    assert predicted == [EGYPTIAN_CAT, ESPRESSO]


@pytest.mark.parametrize(
    "spec,match",
    [
        ("resnet", "unknown model 'resnet'"),
        ("torchvision:notanet", "torchvision has no model"),
        ("no_such_module_xyz:make", "cannot import module"),
        ("math:pi", "has no callable 'pi'"),
        ("math:floor", "cannot be built with no arguments"),
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


FACTORY = """
from torch import nn

def sized(width=4, classes=2):
    return nn.Sequential(nn.Conv2d(3, width, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, classes))
"""


@pytest.fixture
def factory(tmp_path, monkeypatch):
    (tmp_path / "zoo_factories.py").write_text(FACTORY)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_model_args_reach_every_builder(factory):
    assert load_model("zoo_factories:sized", model_args={"width": 6}).model[0].out_channels == 6
    tv = load_model("torchvision:resnet18", weights="none", model_args={"num_classes": 10})
    assert tv.model.fc.out_features == 10
    pytest.importorskip("timm")
    assert load_model("timm:resnet18", weights="none", model_args={"num_classes": 7}).model.fc.out_features == 7


def test_a_state_dict_file_loads_into_any_architecture(factory):
    torch.manual_seed(3)
    trained = nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))
    state = trained.state_dict()
    torch.save(state, factory / "plain.pt")
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}, "epoch": 3}, factory / "ddp.pth")
    from safetensors.torch import save_file

    save_file(state, str(factory / "w.safetensors"))
    save_file({f"module.{k}": v for k, v in state.items()}, str(factory / "ddp.safetensors"))
    for file in ("plain.pt", "ddp.pth", "w.safetensors", "ddp.safetensors"):
        loaded = load_model("zoo_factories:sized", weights=str(factory / file))
        assert all(torch.equal(loaded.model.state_dict()[k], v) for k, v in state.items()), file
    resnet = torchvision_resnet_state(factory)
    loaded = load_model("torchvision:resnet18", weights=str(resnet), model_args={"num_classes": 3})
    assert torch.equal(loaded.model.fc.bias, torch.arange(3.0))


def torchvision_resnet_state(folder):
    import torchvision

    model = torchvision.models.resnet18(num_classes=3)
    with torch.no_grad():
        model.fc.bias.copy_(torch.arange(3.0))
    torch.save(model.state_dict(), folder / "resnet.pt")
    return folder / "resnet.pt"


def test_a_pickled_model_loads_only_when_allowed(factory):
    torch.manual_seed(1)
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 2))
    torch.save(model, factory / "full.pt")
    with pytest.raises(ModelSpecError, match="refused because loading it runs the code"):
        load_model(str(factory / "full.pt"))
    loaded = load_model(str(factory / "full.pt"), allow_pickle=True)
    assert torch.equal(loaded.model[1].weight, model[1].weight) and not loaded.model.training


def test_random_weights_are_seeded_for_every_zoo(factory):
    for spec, weights in (("torchvision:resnet18", "none"), ("zoo_factories:sized", "DEFAULT")):
        a, b = load_model(spec, weights=weights), load_model(spec, weights=weights)
        assert all(torch.equal(p, q) for p, q in zip(a.model.parameters(), b.model.parameters(), strict=True)), spec


def test_a_hugging_face_architecture_takes_random_or_local_weights(tmp_path):
    transformers = pytest.importorskip("transformers")
    folder = tiny_vit_folder(tmp_path / "vit", transformers)
    trained = load_model(f"hf:{folder}").model
    with torch.no_grad():
        trained.classifier.bias.add_(1.0)  # weights no random initialisation gives
    trained.save_pretrained(folder)
    own = load_model(f"hf:{folder}").model
    random_a, random_b = (
        load_model(f"hf:{folder}", weights="none").model,
        load_model(f"hf:{folder}", weights="none").model,
    )
    assert all(torch.equal(p, q) for p, q in zip(random_a.parameters(), random_b.parameters(), strict=True))
    assert not all(torch.equal(p, q) for p, q in zip(own.parameters(), random_a.parameters(), strict=True))
    torch.save(own.state_dict(), tmp_path / "own.pt")
    again = load_model(f"hf:{folder}", weights=str(tmp_path / "own.pt")).model
    assert all(torch.equal(p, q) for p, q in zip(own.parameters(), again.parameters(), strict=True))


def test_loading_leaves_the_callers_random_state_alone(factory):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    load_model("torchvision:resnet18", weights="none")
    load_model("zoo_factories:sized")
    assert torch.equal(torch.rand(3), expected)


def test_weights_a_model_cannot_take_are_one_line(factory):
    (factory / "broken.safetensors").write_bytes(b"not a safetensors file")
    cases = [
        ("zoo_factories:sized", str(factory / "broken.safetensors"), "is not a readable safetensors file"),
        ("zoo_factories:sized", "none", "builds its own weights"),
        ("efficientnet-lite0", "IMAGENET1K_V1", "takes --weights DEFAULT, none or a state-dict file"),
    ]
    if pytest.importorskip("timm"):
        cases.append(("timm:resnet18", "IMAGENET1K_V1", "name it in the model: timm:resnet18.TAG"))
    for spec, weights, message in cases:
        with pytest.raises(ModelSpecError, match=re.escape(message)):
            load_model(spec, weights=weights)
    assert str(factory) not in sys.path  # the current directory was importable only while loading
