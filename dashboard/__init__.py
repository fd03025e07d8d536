"""Data for Good: alert-table imports, zone and school analytics, heatmaps, the web page and partner API."""
