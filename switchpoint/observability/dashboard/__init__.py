"""The built-in dashboard's static files (served by `dashboard_endpoints`)."""
