"""Inputs: the simulator, scenarios, CSV import and the producers that put events into Kafka."""
