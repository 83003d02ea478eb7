"""Search: each mode's ranking over a namespace (``searcher``), one hit per message and reciprocal-rank fusion
(``ranking``), and the calibrated 0-1 scores (``calibration``)."""
