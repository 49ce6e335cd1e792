"""The realistic event simulator (docs/simulator.md)."""
