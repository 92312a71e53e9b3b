r"""The players and the game: everything that defines ``v_x(S)`` for one batch of images.

In the order the data flow: the players (a :class:`FourierPartition` of the Fourier plane:
radial :class:`SpectralBands`, :class:`OrientedBands` rings × orientation sectors, a
:class:`FourierGrid` of cells or a :class:`CustomPartition`) → the baselines (what replaces a
removed band) → the coalition images (``x_S = r + Σ_{i∈S} (x_i − r_i)``) → the value functions
(``log_softmax(f(x_S))[y]`` and others) → :class:`SpectralGame`, which evaluates them on a model.
The baselines by name are in :mod:`~captum_iaside.game.baselines`. :class:`Game` is the contract the
estimators rely on, and :class:`TableGame` a game given by its value table. These are grouped
because together they are the definition of I-ASIDE's game (SPEC.md §1–3); nothing here knows how
Shapley values are estimated.
"""

from captum_iaside.game.bands import SpectralBands
from captum_iaside.game.baselines import Baseline, BaselineSpec, reference_images, resolve_baseline
from captum_iaside.game.coalitions import coalition_matrix, compose
from captum_iaside.game.custom import CustomPartition
from captum_iaside.game.grid import FourierGrid
from captum_iaside.game.orientations import OrientedBands
from captum_iaside.game.partition import FourierPartition
from captum_iaside.game.players import as_bands, partition_from_config
from captum_iaside.game.protocol import Game
from captum_iaside.game.spectral_game import SpectralGame
from captum_iaside.game.table_game import TableGame
from captum_iaside.game.value_functions import VALUE_NAMES, ValueFunction, resolve_target

__all__ = [
    "VALUE_NAMES",
    "Baseline",
    "BaselineSpec",
    "CustomPartition",
    "FourierGrid",
    "FourierPartition",
    "Game",
    "OrientedBands",
    "SpectralBands",
    "SpectralGame",
    "TableGame",
    "ValueFunction",
    "as_bands",
    "coalition_matrix",
    "compose",
    "partition_from_config",
    "reference_images",
    "resolve_baseline",
    "resolve_target",
]
