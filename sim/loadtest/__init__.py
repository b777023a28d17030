"""The load test's pure parts: its options, the schedule of visits, the measured statistics, the summary built
from them, the calibration probe."""
