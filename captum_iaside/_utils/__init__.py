r"""Plumbing shared by every stage: argument checks and coalition codes.

Private, like Captum's ``_utils``: nothing here is public API, and nothing here imports from the
rest of the package.
"""
