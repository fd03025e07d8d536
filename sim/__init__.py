"""The simulator: scenarios, sources, propagation, microphones and clocks -> recording sets and truth.

Independent ground truth: it must not import ``dsp`` or ``locator``.

In memory::

    from sim.presets import load_preset          # or sim.scenario.load_scenario(path)
    from sim.render import simulate
    result = simulate(load_preset("small-city"), seed=1)   # SimResult: sensors, truth, events, arrivals

On disk (``salvo sim ... --out DIR`` or :func:`sim.recording.write_recording_set`):

- ``sensors.csv``, one WAV per sensor, ``site.json``: the recording set of ../shared/DESIGN.md (positions
  as *reported*, i.e. with the survey error; ``start_utc`` as the sensor's own clock read it);
- ``truth.json``: ``shots`` and ``confusers`` (``t_utc``, position, ``shooter``/``weapon`` or ``kind``,
  ``incident``, ``event``; shots also ``supersonic``, ``aim_deg``, ``elevation_deg``), ``incidents``
  (name, shot and shooter counts), ``sensors`` (true positions, clock offset, drift and fault,
  sensitivity) and ``missed`` (events occluded at a sensor);
- ``arrivals.csv``: every true arrival: ``sensor_id, event, t_utc, sample, path, peak_pa`` where
  ``sample`` is the fractional sample index in that sensor's WAV (its clock included) and ``path``
  is ``direct``, ``diffracted``, ``nwave``, ``ground`` or ``echo``.

- ``scenario.toml``: the scenario file's text, when it came from a file (presets included).

``salvo sim --fields`` lists every key of a scenario file with its unit and default.
"""
