"""``motcua screen``: the local viewer of the generated dashboards."""
