"""
The memory bound the tests hold the backfills of 0012 and 0015 to. They measure with
dot0012.migrate_child.memray_peak_bytes(), the benchmark's memray measurement, or with pytest-memray's
limit_memory, which compares the same figure with its limit.
"""

MB = 2**20

# The bound of the patched backfills at 100,000 tokens on every backend, and what the releases'
# `.all()` and `iterator()` loops must exceed in the controls: a round figure well above the first
# and well below the second (docs/benchmark.rst has memray's peaks of both). limit_memory("16 MB")
# states it again, as pytest-memray takes it.
BOUND = 16 * MB
