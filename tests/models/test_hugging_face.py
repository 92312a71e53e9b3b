import pytest

from captum_iaside.models.hugging_face import processor_side


def test_hugging_face_processors_that_crop_give_the_crop_size():
    transformers = pytest.importorskip("transformers")
    deit = transformers.DeiTImageProcessor(size={"height": 256, "width": 256}, crop_size={"height": 224, "width": 224})
    assert processor_side(deit) == 224
    assert processor_side(transformers.ViTImageProcessor(size={"height": 384, "width": 384})) == 384
