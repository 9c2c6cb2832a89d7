"""The provisioned Grafana dashboards, one module each, built by ``grafana/build_dashboards.py``.

``panels`` holds the grid, panel and dashboard helpers; ``queries`` the PromQL expressions and notes that more
than one dashboard uses (site energy, emissions, cost, setpoint writes and reverts); ``notes`` the descriptions
of panels that do not carry their own.
"""
