"""The traffic profile and what visitors do: rates, traces, arrivals, journeys, load-test compression."""
