"""Pure signal processing on numpy arrays: detector, onset picker, features, classifier, cross-correlation.

No I/O, no sockets, no clocks: arrays in, arrays and result objects out.
"""
