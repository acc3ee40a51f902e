"""
### Sync SAP open orders into the Rails app's `open_orders`

Every five minutes this DAG makes `public.open_orders` (PostgreSQL, read by the Rails app) equal
SAP's open sales-order items from `ProcessStatus.dbo.vwZSDOrder_Advanced` (SQL Server), with the
67 columns mapped in `include/mappings/open_orders.yaml`.

1. **extract**: checks the view's columns against the mapping, streams its rows (explicit
   column list) into a staging table with COPY, and converts them per the data contract. A value
   that cannot be converted fails the run, naming key, column and value.
2. **validate**: gates the staged snapshot (key present and unique, NOT NULL columns, at least
   `min_rows`, shrink guard, the mapping's SQL checks). The live table is not touched.
3. **replace**: one PostgreSQL transaction deletes vanished keys, updates changed rows and inserts
   new ones. Ids and `created_at` survive; readers never see a partial table.
4. **cleanup**: drops the run's staging tables, whatever happened.

Any failure leaves `open_orders` exactly as it was. Every attempt is recorded in
`table_sync.history`; the Rails app reads `public.open_orders_sync_status`, operators the
"Sync status" page in the Airflow UI. Airflow connections: `mssql_sap`, `postgres_orders`, and
`smtp_alerts` for the failure mail (optional). Metrics go wherever Airflow's `[metrics]` send
Airflow's own.

**Manual runs** (Trigger DAG w/ config): `dry_run` (extract and validate only), `allow_empty`
(accept an empty source), `max_shrink` (accept a larger shrink for this run, 0 to 1).
"""

import os

# The DAG processor only parses files mentioning "airflow" and "dag" (safe mode): this one does.
from include.sync_dag import build_sync_dag
from include.sync_notifications import SyncFailureMail

dag = build_sync_dag(
    dag_id="sync_open_orders",
    mapping_file="open_orders.yaml",
    doc_md=__doc__,
    schedule=os.environ.get("OPEN_ORDERS_SYNC_SCHEDULE", "*/5 * * * *"),
    tags=["sap", "open_orders", "sync"],
    # Recipients and mail server: the Airflow connection smtp_alerts (docs/runbook.md).
    notifiers=[SyncFailureMail(smtp_conn_id="smtp_alerts")],
)
