import numpy as np
import pytest
import torch

from captum_iaside.cli.data import EMBEDDED_PHOTOS, embedded_photos, preprocess


def test_16_bit_images_are_scaled_by_their_depth_not_saturated(tmp_path):
    from PIL import Image

    from captum_iaside.cli.data import image_folder

    (tmp_path / "a").mkdir()
    pixels = np.full((8, 8), 30000, dtype=np.uint16)
    pixels[:, 4:] = 60000
    Image.fromarray(pixels).save(tmp_path / "a" / "deep.png")  # mode I;16
    Image.fromarray((pixels // 257).astype(np.uint8)).convert("RGB").save(tmp_path / "a" / "shallow.png")
    ds = image_folder(str(tmp_path), preprocess(8, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)))
    deep, shallow = (ds[i][0] for i in sorted(range(2), key=lambda i: ds.samples[i][0]))
    assert deep.shape == (3, 8, 8)
    assert torch.allclose(deep[:, :, :4], torch.tensor(30000 / 65535), atol=1 / 255)
    assert torch.allclose(deep[:, :, 4:], torch.tensor(60000 / 65535), atol=1 / 255)
    assert torch.allclose(deep, shallow, atol=1 / 255)  # the same picture at 8 bits


def test_a_float_image_is_refused_by_name(tmp_path):
    from PIL import Image

    from captum_iaside.cli.data import DataSpecError, image_folder

    (tmp_path / "a").mkdir()
    Image.fromarray(np.ones((8, 8), dtype=np.float32)).save(tmp_path / "a" / "float.tiff")
    with pytest.raises(DataSpecError, match="float.tiff.*32-bit float"):
        image_folder(str(tmp_path), preprocess(8, (0.0,) * 3, (1.0,) * 3))


def test_embedded_photos_are_normalised_squares():
    photos = embedded_photos(preprocess(48, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)))
    x = photos.tensors[0]
    assert x.shape == (len(EMBEDDED_PHOTOS), 3, 48, 48)
    assert -1.0 <= float(x.min()) < -0.5 and 0.5 < float(x.max()) <= 1.0
