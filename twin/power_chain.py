"""Electrical power chain: utility meter -> UPS -> rack PDUs -> IT, plus lighting and other loads.

Loss models are pure functions of load; all powers in W.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["pdu_loss_w", "ups_efficiency", "ups_loss_w"]


def ups_loss_w(
    output_power_w: ArrayLike,
    rated_power_w: float,
    no_load_loss_fraction: float = 0.015,
    proportional_loss_fraction: float = 0.015,
    square_loss_fraction: float = 0.015,
) -> NDArray[np.float64]:
    """Loss of one double-conversion UPS: no-load + proportional + square-law terms.

    ``loss = rated * (a + b * x + c * x**2)`` with ``x = output / rated``. The defaults give an
    efficiency of about 0.915 at 20 % load, 0.945 at 40 % and 0.957 at 100 %, inside the 0.90-0.97
    band typical of double-conversion UPSes, falling at low load as 2N systems (20-40 % load) see.

    Parameters
    ----------
    output_power_w : array_like
        Power delivered at the UPS output [W].
    rated_power_w : float
        Rated output power [W].
    no_load_loss_fraction, proportional_loss_fraction, square_loss_fraction : float
        Coefficients ``a``, ``b``, ``c`` as fractions of rated power [-].

    Returns
    -------
    numpy.ndarray
        Loss [W]; input power is ``output + loss``.

    References
    ----------
    The Green Grid, White Paper 16, "Quantitative Efficiency Analysis of Power Distribution
    Configurations for Data Centers" (2008): UPS loss as fixed, proportional and square-law terms.
    """
    load_fraction = np.asarray(output_power_w, dtype=float) / rated_power_w
    return rated_power_w * (
        no_load_loss_fraction + proportional_loss_fraction * load_fraction + square_loss_fraction * load_fraction**2
    )


def ups_efficiency(output_power_w: ArrayLike, rated_power_w: float, **loss_fractions: float) -> NDArray[np.float64]:
    """Efficiency of one UPS, output / input [-].

    Parameters
    ----------
    output_power_w : array_like
        Power delivered at the UPS output [W].
    rated_power_w : float
        Rated output power [W].
    **loss_fractions : float
        Passed to :func:`ups_loss_w`.

    Returns
    -------
    numpy.ndarray
        Efficiency [-].

    References
    ----------
    The Green Grid, White Paper 16 (2008).
    """
    output = np.asarray(output_power_w, dtype=float)
    return output / (output + ups_loss_w(output, rated_power_w, **loss_fractions))


def pdu_loss_w(
    output_power_w: ArrayLike, no_load_loss_w: float = 50.0, proportional_loss_fraction: float = 0.012
) -> NDArray[np.float64]:
    """Loss of one rack power distribution path (PDU, cabling): fixed plus proportional.

    Parameters
    ----------
    output_power_w : array_like
        IT power drawn through the PDU [W].
    no_load_loss_w : float
        Fixed loss (metering electronics, transformer magnetising) [W].
    proportional_loss_fraction : float
        Resistive loss as a fraction of load [-], about 1-2 % for distribution.

    Returns
    -------
    numpy.ndarray
        Loss [W].

    References
    ----------
    The Green Grid, White Paper 16 (2008), PDU and distribution losses.
    """
    return no_load_loss_w + proportional_loss_fraction * np.asarray(output_power_w, dtype=float)
