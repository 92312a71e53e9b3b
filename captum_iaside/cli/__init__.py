r"""The command line and what it reads and writes: arguments, model specs, images and the report.

:mod:`~captum_iaside.cli.command` is the ``captum-iaside`` entry point, :mod:`~captum_iaside.cli.arguments`
its parser, :mod:`~captum_iaside.cli.data` reads the bundled photos and image folders; models are loaded by
:func:`captum_iaside.models.load_model` and the report is written by
:func:`captum_iaside.report.write_report`, as from Python.
Importing this package imports nothing heavy, so ``captum-iaside --help`` answers at once.
"""

from captum_iaside.cli.command import main

__all__ = ["main"]
