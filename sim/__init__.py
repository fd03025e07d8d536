"""The simulator: scenarios, sources, propagation, microphones and clocks -> recording sets and truth.

Independent ground truth: it must not import ``dsp`` or ``locator``.
"""
