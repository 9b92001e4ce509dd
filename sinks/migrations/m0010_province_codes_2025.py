"""Each former province's code in the 2025 hierarchy, once: the view ``province_codes_2025`` (old_code,
new_code) over ``province_merger_2025`` (migration 0007), deduplicated by ``old_code``.

The readers that map a province code into the 34 provinces (the screens' ``hierarchy`` variable, the named
SQL files ``dashboards/sql/kpis_current.sql`` and ``scores_766.sql``, the alert rules) join this view
instead of each repeating the deduplicating subquery. ``kpis_latest_2025`` keeps its own copy: it is
migration 0007's frozen text, and replacing the view for one subquery would not be worth a DROP.
A code in force since the merger maps to itself; a code not in the mapping has no row (readers keep it).
"""

STATEMENTS = (
    """
    CREATE VIEW IF NOT EXISTS {db}.province_codes_2025 AS
    SELECT old_code, any(new_code) AS new_code
    FROM {db}.province_merger_2025
    GROUP BY old_code
    """,
)
