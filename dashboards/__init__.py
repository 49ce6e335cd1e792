"""chiso's Grafana dashboards, written as code with grafana-foundation-sdk.

`python -m dashboards.build` writes them to `dashboards/generated/`;
`python -m dashboards.push` uploads them to a Grafana.
"""
