"""Distinct values of a file too large to hold, as 64-bit integers: orders per day, say."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

# Order ids written as plain numbers (most point-of-sale systems) are their own code: exact.
_NUMBER = r"^(?:0|[1-9][0-9]{0,11})$"


def order_codes(texts: pa.Array, bits: int) -> np.ndarray:
    """An integer below ``2**bits`` per text: a plain number is itself (below ``2**(bits - 1)``),
    any other text a hash with the top bit set, so the two never meet."""
    top = 1 << (bits - 1)
    numeric = pc.match_substring_regex(texts, _NUMBER).to_numpy(zero_copy_only=False)
    codes = np.zeros(len(texts), dtype=np.uint64)
    if numeric.any():
        codes[numeric] = pc.cast(texts.filter(pa.array(numeric)), pa.uint64()).to_numpy()
    if not numeric.all():
        others = texts.filter(pa.array(~numeric)).to_pylist()
        hashes = np.fromiter((hash(t) for t in others), dtype=np.int64, count=len(others))
        codes[~numeric] = (hashes.view(np.uint64) & np.uint64(top - 1)) | np.uint64(top)
    return codes


class DistinctIntegers:
    """A set of 64-bit integers as sorted NumPy arrays in buckets (by their low bits). A bucket is
    merged once what is pending for it reaches a quarter of its size, so memory stays near 8 bytes
    a distinct value (at most 1.25 times that) and no merge copies more than one bucket."""

    BUCKETS = 64
    MIN_PENDING = 1 << 16

    def __init__(self) -> None:
        self._merged = [np.empty(0, dtype=np.uint64) for _ in range(self.BUCKETS)]
        self._pending: list[list[np.ndarray]] = [[] for _ in range(self.BUCKETS)]
        self._pending_size = [0] * self.BUCKETS

    def add(self, values: np.ndarray) -> None:
        # Hashing drops the block's repeats without a sort; a stable sort of one-byte keys is a
        # radix sort. Each bucket is sorted when it is merged.
        values = pd.unique(values.astype(np.uint64, copy=False))
        bucket = (values % np.uint64(self.BUCKETS)).astype(np.uint8)
        order = np.argsort(bucket, kind="stable")
        bounds = np.searchsorted(bucket[order], np.arange(self.BUCKETS + 1))
        values = values[order]
        for b in range(self.BUCKETS):
            low, high = int(bounds[b]), int(bounds[b + 1])
            if low == high:
                continue
            self._pending[b].append(values[low:high].copy())
            self._pending_size[b] += high - low
            if self._pending_size[b] >= max(len(self._merged[b]) // 4, self.MIN_PENDING):
                self._merge(b)

    def _merge(self, b: int) -> None:
        if self._pending[b]:
            pending = np.concatenate(self._pending[b])
            pending.sort()
            # Two sorted runs: the stable sort (a merge sort) joins them in one pass.
            both = np.concatenate([self._merged[b], sorted_unique(pending)])
            both.sort(kind="stable")
            self._merged[b] = sorted_unique(both)
            self._pending[b], self._pending_size[b] = [], 0

    def buckets(self) -> Iterator[np.ndarray]:
        """The distinct values, a bucket (sorted) at a time: equal low bits share a bucket."""
        for b in range(self.BUCKETS):
            self._merge(b)
            yield self._merged[b]

    def values(self) -> np.ndarray:
        return np.concatenate(list(self.buckets()))


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """The distinct values of a sorted array (``np.unique`` would sort it again)."""
    if len(values) < 2:
        return values
    keep = np.empty(len(values), dtype=bool)
    keep[0] = True
    np.not_equal(values[1:], values[:-1], out=keep[1:])
    return values[keep]
