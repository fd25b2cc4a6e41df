import tempfile
from pathlib import Path

import memray


MB = 2**20


def peak_allocated(func):
    """
    Bytes allocated while `func` runs and still held at its high-water mark, counting C allocations
    (such as a driver's client-side result buffer) as well as Python ones. This is the figure that
    pytest-memray's limit_memory compares with its limit.
    """
    with tempfile.TemporaryDirectory() as directory:
        result = Path(directory) / "allocations.bin"
        with memray.Tracker(result, file_format=memray.FileFormat.AGGREGATED_ALLOCATIONS):
            func()
        records = memray.FileReader(result).get_high_watermark_allocation_records(merge_threads=True)
        return sum(record.size for record in records)
