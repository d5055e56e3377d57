-- The two queue tables vacuumed early and at full speed (docs/performance.md,
-- "Latency right after a bulk load").
--
-- view_dirty (the notes) and outbox are written and emptied by every batch:
-- a tenth of the city inserted and deleted 7.4 million notes and 3.1 million
-- outbox rows. After a catch-up view_dirty held 768 live rows and 3.5 million
-- dead ones (250 MB of heap, a 327 MB primary key), and each views round's
-- two statements that take notes walked the dead index entries: 230 and
-- 315 ms, against 0.03 ms once vacuumed. Autovacuum's defaults wait for a
-- fifth of the table to be dead and then sleep 2 ms every 200 cost units,
-- and its three workers were busy with the large tables the catch-up wrote
-- (audit_log alone is 2.9 GB), so that vacuum came 12 minutes after the
-- catch-up ended and commit-to-subscriber latency at 200 residents/s was
-- p99 840 ms instead of ~160. Here a vacuum is due at 10,000 dead rows
-- whatever the size, and it is not throttled: these tables are small when
-- they are not bloated, so their vacuums are cheap and short.
ALTER TABLE view_dirty SET (autovacuum_vacuum_scale_factor = 0,
                            autovacuum_vacuum_threshold = 10000,
                            autovacuum_vacuum_cost_delay = 0);
ALTER TABLE outbox SET (autovacuum_vacuum_scale_factor = 0,
                        autovacuum_vacuum_threshold = 10000,
                        autovacuum_vacuum_cost_delay = 0);
