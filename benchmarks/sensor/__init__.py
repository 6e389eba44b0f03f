"""Sensor-trace benchmark: sigdenoise against classical filters on held-out traces x every recipe."""
