"""Input checks shared by the physics functions and the pipelines: arrays of real numbers."""

from __future__ import annotations

import numpy as np
import torch


def check_real_numbers(values, name: str) -> torch.Tensor:
    """`values` (array-like or tensor) as a detached tensor once it holds real numbers; else a `ValueError`.

    Complex values are refused rather than cast (a cast drops the imaginary part without a
    word), and so are booleans and non-numeric arrays.
    """
    if isinstance(values, torch.Tensor):
        tensor = values.detach()
    else:
        array = np.asarray(values)
        if array.dtype.kind not in "biufc":
            raise ValueError(f"{name} must be an array of real numbers, got dtype {array.dtype}.")
        tensor = torch.as_tensor(array)
    if tensor.is_complex() or tensor.dtype == torch.bool:
        raise ValueError(
            f"{name} must hold real numbers, got dtype {tensor.dtype}"
            + ("; give the real part explicitly if that is what you mean." if tensor.is_complex() else ".")
        )
    return tensor
