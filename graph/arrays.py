"""Array helpers the pipeline's stages share.

numpy 2.4's ``np.unique(x)`` without ``return_*`` options hashes the values, which on ten
million distinct int64 keys runs about twenty times slower than sorting them; the options
that return inverses or counts still sort. The set operations here sort.
"""

from __future__ import annotations

import numpy as np

__all__ = ["member", "unique"]


def unique(x: np.ndarray) -> np.ndarray:
    """Sorted distinct values of a 1-d array, by sorting (see the module note).

    Examples
    --------
    >>> unique(np.array([3, 1, 3, 2])).tolist()
    [1, 2, 3]
    """
    s = np.sort(np.asarray(x).ravel())
    if s.size == 0:
        return s
    return s[np.concatenate(([True], s[1:] != s[:-1]))]


def member(x: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    """Whether each value of ``x`` is in ``sorted_set`` (sorted, distinct), by binary search.

    Examples
    --------
    >>> member(np.array([1, 4, 2]), np.array([1, 2, 3])).tolist()
    [True, False, True]
    """
    x = np.asarray(x)
    if sorted_set.size == 0:
        return np.zeros(x.shape, dtype=bool)
    at = np.minimum(np.searchsorted(sorted_set, x), sorted_set.size - 1)
    return sorted_set[at] == x
