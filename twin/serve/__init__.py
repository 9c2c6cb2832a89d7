"""Simulated devices serving real SNMP on loopback through the agent's own YAML profiles.

Not imported by the agent core: only the ``demo`` command, tests and benchmarks use it.
"""
