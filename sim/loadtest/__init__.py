"""The load test's pure parts: the schedule of visits, the measured statistics, the calibration probe."""
