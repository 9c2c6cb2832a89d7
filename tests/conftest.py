"""Settings for the whole test session (loaded before any test module imports numpy or scikit-learn).

One thread per native thread pool (OpenMP, OpenBLAS, MKL), in this process and in every agent, twin or CLI
process a test starts (they inherit the environment). The fits and array operations here are small: extra
threads only add overhead, and on a busy 2-core machine OpenMP's spinning workers wait at every barrier for
a descheduled sibling. Measured: ``tests/core/test_retrain.py``'s fit, run in the retrainer's own thread
(where ``threadpoolctl`` limits set in the main thread do not reach), took 941 s with the default two
OpenMP threads and 24 s with one. Results do not depend on it; a value set by the caller is kept.
"""

from __future__ import annotations

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

# the session's PostgreSQL server (tests/pgserver.py): started by the first test that asks for it
from tests.pgserver import pg_url, postgres_server  # noqa: E402, F401
