"""Preset scenario files (``*.toml``), loaded by name through :func:`sim.presets.load_preset`."""
