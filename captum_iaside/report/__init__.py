r"""The report of a global run, for the command line and for Python alike.

:func:`~captum_iaside.report.writer.write_report` writes ``results.json`` and ``results.csv`` first, then
the pictures, then ``report.html`` — one self-contained page with every picture embedded — so a picture
that fails loses no number. :mod:`~captum_iaside.report.tables` formats the printed table and the CSV
rows; :mod:`~captum_iaside.report.html` lays out the page.
"""

from captum_iaside.report.writer import RESULT_KEYS, write_report

__all__ = ["RESULT_KEYS", "write_report"]
