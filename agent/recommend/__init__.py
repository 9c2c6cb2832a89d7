"""Cooling model fitting, setpoint recommendation and its offline CLI."""
