"""Pure modelling code: counters, PUE and (later) the cooling model.

Nothing here touches sockets, files, the clock or the environment, and nothing imports ``agent``.
"""
