"""The clinic overview: its live counts, the lists behind each figure, the chart, the screen."""
