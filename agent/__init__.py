"""pue-agent: poll power and cooling plant over SNMP, compute PUE, export to Prometheus.

Data flows one way: config and device profiles -> SNMP collector -> immutable readings in
canonical SI quantities -> power topology -> PUE -> exporters, history and models.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
