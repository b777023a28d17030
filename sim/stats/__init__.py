"""Streaming statistics: histograms, binned series, time-weighted levels, confidence intervals, summaries."""
