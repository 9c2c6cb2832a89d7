"""Digital twin of a Guiyang data hall: physics, controllers and batch simulation.

Layers, pvlib-style: pure physics functions (:mod:`psychro`, :mod:`power_chain`, :mod:`cooling`, :mod:`solar`,
:mod:`it_load`), an object holding one site (:class:`twin.site.SitePlant`), and a chain that
runs a year (:func:`twin.simulate.simulate`). File I/O lives in :mod:`weather` (``read_*``) and
:mod:`history_csv` (``write_*``).
"""
