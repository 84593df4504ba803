"""How the codec's worker threads wait: they sleep when idle instead of spinning.

torch's intra-op pool (OpenMP) spins for a while after each parallel region by default. A
call codec shares a laptop's cores with the rest of the call; on a busy 2-core machine that
spinning made eager torch several times slower, and slowed the onnxruntime graphs run in the
same process (docs/speed.md). The policy is read when torch loads OpenMP, so it must be set
before torch is first imported; a value the user set wins.
"""

from __future__ import annotations

import os


def sleep_when_idle() -> None:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
