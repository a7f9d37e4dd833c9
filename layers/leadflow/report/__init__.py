"""Reports: the figures counted as leads change, and the funnel, speed and SLA read back from them."""
