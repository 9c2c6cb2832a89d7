"""Redfish (DMTF DSP0266) over HTTPS: servers' input power from their BMCs (IT measured at category 3)."""
