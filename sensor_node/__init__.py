"""The sensor node: audio sources, sample clock -> UTC, detection pipeline, wire protocol, uplink."""
