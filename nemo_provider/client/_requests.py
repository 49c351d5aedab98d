"""Compatibility only: the module that held the whole API before it was split (issue 13).

The flows are now ``_flows`` / ``_message`` / ``_call``, the client state ``_core``, the parser
``_parse``. New code imports ``new_render_id`` from ``nemo_provider.client``; this re-export keeps the
export operator's older import working and can go once nothing imports it.
"""

from __future__ import annotations

from nemo_provider.client._core import new_render_id

__all__ = ["new_render_id"]
