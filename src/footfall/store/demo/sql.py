"""The demo generator's SQL: hash-based random draws as macros, and the statements per step.

Every statement binds its values as named parameters (`$name`, see traffic.py); none is built
from user input.
"""

from __future__ import annotations

import re
from typing import Any

from footfall.events import EVENT_COLUMNS

# Every random draw is `demo_u(<entity hash>, <stream>)`: one stream per decision, so that
# changing how one attribute is drawn never shifts the others. Streams on the visit hash:
# 1-2 pageview count, 5 conversion, 6-9 outbound click and download (whether, on which page),
# 10/12 plans, 13-14 their URLs, 20 visitor, 21 time, 22 source, 30+ moments of custom events.
# On the visitor hash: 1 place, 2 user agent, 3 screen. On the page hash: 3 dwell, 4 engaged,
# 5 page, 6-8 engagement values.
MACROS = (
    "CREATE OR REPLACE TEMP MACRO demo_u(h, stream) AS"
    " (hash(xor(h, stream::UBIGINT)) >> 11) / 9007199254740992.0",
    # ~50% single-page visits, then a geometric tail: about 2.3 pageviews per visit.
    "CREATE OR REPLACE TEMP MACRO demo_views(h) AS CASE WHEN demo_u(h, 1) < 0.5 THEN 1"
    " ELSE least(30, 2 + floor(ln(1 - demo_u(h, 2)) / ln(0.62)))::BIGINT END",
    "CREATE OR REPLACE TEMP MACRO demo_page_hash(h, j) AS"
    " hash(xor(h, ((j + 1) * 1000003)::UBIGINT))",
    # Time spent on page j before the next click: 4 s plus an exponential tail (mean ~55 s).
    "CREATE OR REPLACE TEMP MACRO demo_dwell(h, j) AS (4000 + least(900000,"
    " floor(-ln(1 - demo_u(demo_page_hash(h, j), 3)) * 55000)))::BIGINT",
    "CREATE OR REPLACE TEMP MACRO demo_offset(h, j) AS"
    " coalesce(list_sum(list_transform(range(j), lambda k: demo_dwell(h, k) + 1000)), 0)::BIGINT",
    "CREATE OR REPLACE TEMP MACRO demo_engaged(h, j) AS demo_u(demo_page_hash(h, j), 4) < 0.6",
    # 2 = Purchase (multi-page visits only), 1 = Signup (likelier the more pages were seen).
    "CREATE OR REPLACE TEMP MACRO demo_conversion(h, views) AS CASE"
    " WHEN views >= 2 AND demo_u(h, 5) < 0.012 THEN 2"
    " WHEN demo_u(h, 5) >= 0.012 AND demo_u(h, 5) < 0.012 + 0.008 * least(views, 6) THEN 1"
    " ELSE 0 END",
    "CREATE OR REPLACE TEMP MACRO demo_outbound(h) AS demo_u(h, 6) < 0.07",
    "CREATE OR REPLACE TEMP MACRO demo_download(h) AS demo_u(h, 7) < 0.03",
    "CREATE OR REPLACE TEMP MACRO demo_event_count(h) AS demo_views(h)"
    " + len(list_filter(range(demo_views(h)), lambda j: demo_engaged(h, j)))"
    " + demo_outbound(h)::BIGINT + demo_download(h)::BIGINT"
    " + (demo_conversion(h, demo_views(h)) > 0)::BIGINT",
    "CREATE OR REPLACE TEMP MACRO demo_visitor(h, pool, skew) AS"
    " floor(pool * pow(demo_u(h, 20), skew))::UBIGINT",
    # Entry pages lean less on the home page than later pages; conversions end on their page.
    "CREATE OR REPLACE TEMP MACRO demo_path(h, j, views, conversion, pages, signup, cart, checkout)"
    " AS CASE WHEN conversion = 1 AND j = views - 1 THEN signup"
    " WHEN conversion = 2 AND j = views - 1 THEN checkout"
    " WHEN conversion = 2 AND j = views - 2 THEN cart"
    " ELSE list_element(pages, 1 + floor(len(pages)"
    " * pow(demo_u(demo_page_hash(h, j), 5), CASE WHEN j = 0 THEN 1.9 ELSE 2.6 END))::BIGINT) END",
    "CREATE OR REPLACE TEMP MACRO demo_moment(h, j, stream) AS demo_offset(h, j)"
    " + floor(demo_dwell(h, j) * (0.2 + 0.6 * demo_u(h, stream)))::BIGINT",
    # 16 bytes from two 64-bit hashes; going through UUID is by far the cheapest way to a BLOB.
    "CREATE OR REPLACE TEMP MACRO demo_event_id(x, key1, key2) AS"
    " ((hash(xor(x, key1::UBIGINT))::UHUGEINT << 64"
    " | hash(xor(x, key2::UBIGINT)))::UUID)::BLOB",
)

TEMP_OBJECTS = ("TABLE demo_visits", "TABLE demo_time") + tuple(
    "MACRO " + name for name in reversed(re.findall(r"TEMP MACRO (\w+)", " ".join(MACROS)))
)

# Traffic weight of every hour of the range for every place, as a cumulative distribution:
# the place's local hour of day and day of week, slow growth, and a day-to-day wobble.
TIME_SQL = """
CREATE OR REPLACE TEMP TABLE demo_time AS
WITH places AS (
    SELECT unnest(range(1, len($geo_offsets) + 1)) AS geo, unnest($geo_offsets) AS offset_min
), buckets AS (
    SELECT p.geo, b.bucket, $start_ms + b.bucket * 3600000 AS bucket_ms,
           epoch_ms($start_ms + b.bucket * 3600000 + p.offset_min * 60000) AS local_time
    FROM range($hours) AS b(bucket), places AS p
), weighted AS (
    SELECT geo, bucket, bucket_ms,
           list_element($hourly_weights, hour(local_time) + 1)
           * list_element($weekday_weights, isodow(local_time))
           * ($growth_start + ($growth_end - $growth_start) * bucket / $hours)
           * (1 - $daily_noise + 2 * $daily_noise
              * demo_u(hash((bucket_ms // 86400000)::UBIGINT), $seed_key)) AS weight
    FROM buckets
)
SELECT geo, bucket_ms,
       (sum(weight) OVER running - weight) / sum(weight) OVER (PARTITION BY geo) AS cum_lo,
       sum(weight) OVER running / sum(weight) OVER (PARTITION BY geo) AS cum_hi
FROM weighted
WINDOW running AS (PARTITION BY geo ORDER BY bucket ROWS UNBOUNDED PRECEDING)
"""

# Event rows per visit, summed in visit order from `$before_block` (the rows of all earlier
# blocks of visits), grouped into chunks of about `chunk_events`, up to the requested total.
PLAN_SQL = """
WITH counted AS (
    SELECT i, demo_event_count(hash(xor(hash(i), $seed_key::UBIGINT))) AS events
    FROM range($block_start, $block_end) AS t(i)
), running AS (
    SELECT i, events,
           $before_block + sum(events) OVER (ORDER BY i ROWS UNBOUNDED PRECEDING) - events
               AS before
    FROM counted
)
SELECT before // $chunk_events AS chunk, min(i), max(i), min(before)::BIGINT,
       sum(events)::BIGINT
FROM running WHERE before < $events
GROUP BY chunk ORDER BY chunk
"""

VISITS_SQL = """
CREATE OR REPLACE TEMP TABLE demo_visits AS
WITH base AS (
    SELECT i AS visit_index, hash(xor(hash(i), $seed_key::UBIGINT)) AS h
    FROM range($first_visit, $end_visit) AS t(i)
), shaped AS (
    SELECT visit_index, h, demo_views(h) AS views,
           hash(xor(hash(demo_visitor(h, $visitor_pool, $visitor_skew)),
                    $traits_key::UBIGINT)) AS hv,
           (visit_index + demo_u(h, 21)) / $visits AS u_time,
           list_element($source_slots, 1 + floor(demo_u(h, 22) * $slots)::BIGINT) AS source_idx
    FROM base
), placed AS (
    SELECT *, demo_conversion(h, views) AS conversion,
           list_element($geo_slots, 1 + floor(demo_u(hv, 1) * $slots)::BIGINT) AS geo_idx,
           list_element($platform_slots, 1 + floor(demo_u(hv, 2) * $slots)::BIGINT)
               AS platform_idx
    FROM shaped
)
SELECT p.*,
       least(t.bucket_ms + floor((p.u_time - t.cum_lo) / (t.cum_hi - t.cum_lo) * 3600000)::BIGINT,
             $end_ms - demo_offset(p.h, p.views)) AS start_ms
FROM placed AS p ASOF JOIN demo_time AS t ON p.geo_idx = t.geo AND p.u_time >= t.cum_lo
"""

_ROWS_SQL_TEMPLATE = """
WITH pages AS MATERIALIZED (
    SELECT *, start_ms + demo_offset(h, j) AS ts_ms, demo_dwell(h, j) AS dwell_ms,
           demo_page_hash(h, j) AS hp,
           demo_path(h, j, views, conversion, $pages, $signup_page, $cart_page,
                     $checkout_page) AS pathname
    FROM (SELECT visit_index, h, views, conversion, start_ms, unnest(range(views)) AS j
          FROM demo_visits)
), customs AS (
    SELECT visit_index, h, views, conversion, start_ms, 2 AS salt, 'event' AS kind,
           'Outbound Link: Click' AS name, floor(demo_u(h, 8) * views)::BIGINT AS j,
           ['url'] AS props_keys,
           [list_element($outbound_urls,
                         1 + floor(demo_u(h, 13) * len($outbound_urls))::BIGINT)] AS props_values,
           NULL AS revenue
    FROM demo_visits WHERE demo_outbound(h)
    UNION ALL
    SELECT visit_index, h, views, conversion, start_ms, 3, 'event', 'File Download',
           floor(demo_u(h, 9) * views)::BIGINT, ['url'],
           ['https://' || $hostname || list_element($download_paths,
                1 + floor(demo_u(h, 14) * len($download_paths))::BIGINT)], NULL
    FROM demo_visits WHERE demo_download(h)
    UNION ALL
    SELECT visit_index, h, views, conversion, start_ms, 4, 'event', 'Signup', views - 1,
           ['plan'], [list_element($signup_plans,
                                   1 + floor(demo_u(h, 12) * len($signup_plans))::BIGINT)], NULL
    FROM demo_visits WHERE conversion = 1
    UNION ALL
    SELECT visit_index, h, views, conversion, start_ms, 5, 'conversion', 'Purchase', views - 1,
           ['plan'], [list_element($plan_names, plan)], list_element($plan_amounts, plan)
    FROM (SELECT *, list_element($plan_slots,
                                 1 + floor(demo_u(h, 10) * len($plan_slots))::BIGINT) AS plan
          FROM demo_visits WHERE conversion = 2)
), rows AS (
    SELECT visit_index, (j + 1) * 8 AS salt, ts_ms, 'pageview' AS kind, 'pageview' AS name,
           pathname, []::VARCHAR[] AS props_keys, []::VARCHAR[] AS props_values,
           NULL::VARCHAR AS revenue, true AS interactive, 0 AS scroll_depth, 0 AS engagement_ms
    FROM pages
    UNION ALL
    SELECT visit_index, (j + 1) * 8 + 1, ts_ms + dwell_ms, 'engagement', 'engagement', pathname,
           [], [], NULL, false,
           CASE WHEN demo_u(hp, 6) < 0.3 THEN 100
                ELSE 10 + floor(demo_u(hp, 7) * 90)::INTEGER END,
           floor(dwell_ms * (0.35 + 0.6 * demo_u(hp, 8)))::BIGINT
    FROM pages WHERE demo_engaged(h, j)
    UNION ALL
    SELECT visit_index, salt, start_ms + demo_moment(h, j, 30 + salt), kind, name,
           demo_path(h, j, views, conversion, $pages, $signup_page, $cart_page,
                     $checkout_page),
           props_keys, props_values, revenue, true, 0, 0
    FROM customs
)
SELECT {columns}
FROM rows AS r JOIN demo_visits AS v ON r.visit_index = v.visit_index
ORDER BY r.visit_index = $cut_visit, r.ts_ms, r.salt
LIMIT $rows
"""

# The value of every `events` column, in terms of a row `r` and its visit `v` (see above).
COLUMN_SQL = {
    "event_id": "demo_event_id(xor(v.h, r.salt::UBIGINT), $id_key1, $id_key2)",
    "ts": "epoch_ms(r.ts_ms)",
    "site_id": "$site_id",
    "name": "r.name",
    "kind": "r.kind",
    "visitor_id": "greatest(hash(xor(v.hv, $visitor_key::UBIGINT)), 1::UBIGINT)",
    "session_id": "greatest(hash(xor(v.h, $session_key::UBIGINT)), 1::UBIGINT)",
    "user_id": "NULL::VARCHAR",
    "hostname": "$hostname",
    "pathname": "r.pathname",
    "referrer": "list_element($source_referrer, v.source_idx)",
    "referrer_source": "list_element($source_name, v.source_idx)",
    "channel": "list_element($source_channel, v.source_idx)",
    "utm_source": "list_element($source_utm_source, v.source_idx)",
    "utm_medium": "list_element($source_utm_medium, v.source_idx)",
    "utm_campaign": "list_element($source_utm_campaign, v.source_idx)",
    "utm_content": "list_element($source_utm_content, v.source_idx)",
    "utm_term": "list_element($source_utm_term, v.source_idx)",
    "country": "list_element($geo_country, v.geo_idx)",
    "region": "list_element($geo_region, v.geo_idx)",
    "city": "list_element($geo_city, v.geo_idx)",
    "browser": "list_element($platform_browser, v.platform_idx)",
    "browser_version": "list_element($platform_browser_version, v.platform_idx)",
    "os": "list_element($platform_os, v.platform_idx)",
    "os_version": "list_element($platform_os_version, v.platform_idx)",
    "device": "list_element($platform_device, v.platform_idx)",
    "screen_width": "list_element(list_element($screen_slots,"
    " list_element($platform_device_index, v.platform_idx)),"
    " 1 + floor(demo_u(v.hv, 3) * $screen_slot_count)::BIGINT)",
    "props_keys": "r.props_keys",
    "props_values": "r.props_values",
    "revenue_amount": "r.revenue::DECIMAL(18, 2)",
    "revenue_currency": "CASE WHEN r.revenue IS NULL THEN ''"
    " ELSE list_element($geo_currency, v.geo_idx) END",
    "link_id": "0",
    "campaign_id": "0",
    "recipient": "''",
    "platform": "''",
    "is_bot": "false",
    "interactive": "r.interactive",
    "scroll_depth": "r.scroll_depth",
    "engagement_ms": "r.engagement_ms",
    "batch_id": "0",
}

VISITORS_SQL = """
SELECT count(DISTINCT demo_visitor(hash(xor(hash(i), $seed_key::UBIGINT)),
                                   $visitor_pool, $visitor_skew))
FROM range($visits) AS t(i)
"""

_PARAMETER = re.compile(r"\$([a-z_0-9]+)")


def rows_sql() -> str:
    """The statement producing one chunk's rows, with a column for each of EVENT_COLUMNS."""
    missing = [column for column in EVENT_COLUMNS if column not in COLUMN_SQL]
    if missing:
        raise RuntimeError(f"the demo generator has no value for events columns {missing}")
    columns = ",\n       ".join(f"{COLUMN_SQL[c]} AS {c}" for c in EVENT_COLUMNS)
    return _ROWS_SQL_TEMPLATE.format(columns=columns)


def bound(sql: str, params: dict[str, Any]) -> dict[str, Any]:
    """The parameters `sql` names (DuckDB rejects named parameters a statement does not use)."""
    return {name: params[name] for name in set(_PARAMETER.findall(sql))}
