"""Test helpers that are part of the package: a fake X API server (``fake_x``).

Shipped in the package (not under ``tests/``) so ``python -m
threadbot.testing.fake_x`` can be used to rehearse offline.
"""
