r"""captum-iaside: global spectral Shapley importance (I-ASIDE) for image classifiers, on Captum.

The public names are listed once, in ``__init__.pyi`` (which editors and type checkers read), and
imported on first use (:func:`lazy_loader.attach_stub`), so ``import captum_iaside`` (and the command
line's ``--help``) does not pay for PyTorch until something needs it.
"""

import lazy_loader

__version__ = "0.3.0"

__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
