"""Where a measurement ran: recorded with every benchmark figure and training run."""

from __future__ import annotations

import os
import platform

import torch


def machine_info() -> dict:
    """Platform, CPU count, torch version and threads, and Python version, as a flat dict."""
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
    }
