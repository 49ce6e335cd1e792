"""Deterministic event scenarios that reproduce published figures exactly.

Each module has ``events()``: the whole scenario as contract dicts, ordered by
(``occurred_at``, ``event_id``). See docs/simulator.md.
"""
