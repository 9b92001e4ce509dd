"""The named queries now live in the screens' room (``dashboards.queries``, files ``dashboards/sql/*.sql``).

Re-exported here so that `motcua top` and the sink's tests keep reading exactly the same queries.
"""

from dashboards.queries import SQL_DIR, names, query, render

__all__ = ["SQL_DIR", "names", "query", "render"]
