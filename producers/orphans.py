"""Child processes that end when their parent does, however it ends.

A ProcessPoolExecutor's workers wait on a queue that their siblings hold open too, so a SIGKILLed ingest
service left its validators running for good (found after the SIGKILL test). Each worker watches its parent
instead: once it is re-parented, it exits.
"""

from __future__ import annotations

import os
import threading
import time

CHECK_EVERY = 1.0  # seconds


def exit_with_parent(parent_pid: int) -> None:
    """A pool initializer: exit this process within ``CHECK_EVERY`` seconds of ``parent_pid`` ending."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(CHECK_EVERY)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
