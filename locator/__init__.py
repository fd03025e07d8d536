"""The locator: geodesy, association, TDOA solvers, incidents, the ingest service, alerts, the store."""
