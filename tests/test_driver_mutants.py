"""Tests that kill the mutants of the port, its arbiter, its seam, the devices and their worker
(docs/mutation.md): each pins down a behaviour a user would notice."""

from __future__ import annotations
