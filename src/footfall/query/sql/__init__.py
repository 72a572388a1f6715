"""SQL for the event stores: the tree and its DuckDB and ClickHouse spellings."""
