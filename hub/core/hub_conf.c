/* The hub's properties (gh_hub_props, hub.h): their names, defaults,
 * bounds and descriptions, which `gridhub config-doc` prints into
 * docs/configuration.md. */
#include "gridhub/kafka.h"
#include "gridhub/schema_topic.h"
#include "gridhub/shutdown.h"
#include "hub.h"
#include "hub_int.h"
#include "hub_metrics.h"

const gh_conf_prop_t gh_hub_props[] = {
    {"database.conninfo", GH_CONF_STR, NULL, 1, 0, 0, NULL, NULL,
     "libpq connection string of the hub's own database (migrations are "
     "applied at start)."},
    {"database.slow.statement.ms", GH_CONF_INT, "60000", 0, 0, 86400000, NULL,
     NULL,
     "A statement the hub still waits for after this long, and after each "
     "doubling of it, is logged as a warning naming what it does (a plan "
     "gone wrong otherwise shows only as a thread gone quiet; a view round "
     "of a large catch-up may take minutes). 0: never."},
    GH_KAFKA_CONF_PROPS,
    {"source.topics", GH_CONF_LIST, NULL, 1, 0, 0, NULL, NULL,
     "Department topics to consume, each "
     "`<source.topic.prefix>.<department>.<entity>`, e.g. "
     "`gridhub.zongzhi.person` or `gridhub.gongan.household`: a topic speaks "
     "for the department its name says (an event naming another department "
     "is a dead letter) and carries the entity its name ends with (events "
     "are read as that entity's envelope, whatever schema they were "
     "written with). Persons are resolved into golden residents; every "
     "other entity is kept per department row in `source_row`."},
    {"source.topic.prefix", GH_CONF_STR, "gridhub", 0, 0, 0, NULL, NULL,
     "The connectors' `topic.prefix`."},
    {"source.lsn.max.jump", GH_CONF_INT, "274877906944", 0, 1,
     INT64_C(9223372036854775807), NULL, NULL,
     "Bytes of WAL an event's source position (LSN) may lie past the highest "
     "one accepted from its department (256 GiB); an event further ahead is "
     "taken as forged (it would make genuine later changes look like "
     "replays) and dead-lettered. Raise it for a department that writes "
     "more WAL than this between two person changes."},
    {"group.id", GH_CONF_STR, "gridhub-hub", 0, 0, 0, NULL, NULL,
     "Consumer group; hub instances sharing the work use the same one."},
    GH_FEED_PROPS,
    {"audit.signing.key.file", GH_CONF_STR, NULL, 0, 0, 0, NULL, NULL,
     "Ed25519 private key (PEM, mode 0600; `gridhub audit keygen`) that "
     "signs the audit log's tree heads. Without it the log is still "
     "written and hashed, but no head pins it outside the database "
     "(docs/audit.md)."},
    {"audit.head.interval.ms", GH_CONF_INT, "10000", 0, 100, 86400000, NULL,
     NULL, "How often a signed tree head is issued when the audit log grew."},
    {"audit.topic", GH_CONF_STR, "hub.audit.heads", 0, 0, 0, NULL, NULL,
     "The topic signed tree heads are published to (JSON, keyed by size)."},
    GH_SCHEMAS_DIR_PROP,
    GH_SCHEMAS_TOPIC_PROP,
    {"schema.registry.url", GH_CONF_STR, "", 0, 0, 0, NULL, NULL,
     "If set, view values use Confluent framing with this Schema Registry "
     "(and department events framed that way can be read)."},
    GH_CONF_DLQ_PROP("messages the hub cannot decode or apply"),
    {"batch.max.messages", GH_CONF_INT, "20000", 0, 1, 1000000, NULL, NULL,
     "Most person messages applied in one database transaction."},
    {"views.refresh.interval.ms", GH_CONF_INT, "5000", 0, 0, 3600000, NULL,
     NULL,
     "Longest the grid, event and household views lag the batches that "
     "changed them (docs/grid.md): they are refreshed with a batch at most "
     "this often, and between batches when the stream is quiet; the grid "
     "views, which count persons, wait with the persons while a catch-up "
     "holds them back (views.person.defer.messages). What to refresh is "
     "noted in the hub database, so a crash loses none of it. 0: with every "
     "batch."},
    {"views.refresh.catchup.interval.ms", GH_CONF_INT, "15000", 0, 0, 3600000,
     NULL, NULL,
     "Longest the household, building and event views lag while the hub "
     "catches up (views.person.defer.messages), if longer than "
     "views.refresh.interval.ms; the persons' attributes are derived with "
     "them. A catch-up's batches touch the same households, buildings and "
     "residents again and again (a household's members arrive after it), "
     "and each refresh makes them again: at a tenth of the city, the views "
     "took 6-13% less time with 15 s than with 5 s (docs/performance.md). "
     "The catch-up's end refreshes as views.refresh.interval.ms does. 0: as "
     "views.refresh.interval.ms."},
    {"views.person.defer.messages", GH_CONF_INT, "5000", 0, 0, 100000000, NULL,
     NULL,
     "A batch of at least this many messages, or as many waiting behind it "
     "(the assigned partitions' high watermarks less the consumer's "
     "positions), means the hub is catching up: its persons' attributes wait "
     "for the next refresh of the views (at most "
     "views.refresh.catchup.interval.ms later), and their publication for the "
     "end of the catch-up (a smaller "
     "batch and backlog, or a quiet stream; at most "
     "views.person.defer.max.ms while the backlog does not go down, "
     "views.person.defer.gaining.max.ms while it does), and with it the "
     "grid views' refresh, noted in the hub database: during a "
     "catch-up a resident's records arrive in many batches, and each would "
     "publish them again (subscribers get the latest state once, as from a "
     "Kafka Streams table's cache). Smaller batches publish at once, so a "
     "stream the hub keeps up with (each batch holds what came while the "
     "last was applied) keeps its latency. 0: never deferred."},
    {"views.person.defer.max.ms", GH_CONF_INT, "300000", 0, 0, 86400000, NULL,
     NULL,
     "Longest a catch-up (views.person.defer.messages) the hub does not "
     "gain on holds back the persons' publication: their attributes follow "
     "every refresh of the views, and the persons go out when the catch-up "
     "ends (a smaller batch, or a quiet stream), or at the end of a window "
     "this long (from the first refresh that left them noted) over which "
     "the messages waiting did not go down. A window they went down in is "
     "followed by another, up to views.person.defer.gaining.max.ms: a "
     "resident's records arrive over the whole catch-up, and each "
     "publication sends the residents changed since the last one again. 0: "
     "with every refresh of the views."},
    {"views.person.defer.gaining.max.ms", GH_CONF_INT, "1800000", 0, 0,
     604800000, NULL, NULL,
     "Longest a catch-up the hub gains on (the messages waiting went down "
     "over each views.person.defer.max.ms) holds back the persons' "
     "publication: an initial load, or the backlog of a hub that was down, "
     "publishes its residents once, at its end, where a fixed window "
     "published most of them mid-load and again at the end. 0 or less than "
     "views.person.defer.max.ms: one window, as when not gaining."},
    {"views.person.publish.max", GH_CONF_INT, "50000", 0, 0, 100000000, NULL,
     NULL,
     "Most persons noted to publish that one views transaction takes (those "
     "whose attributes changed in it go out besides); the others stay noted "
     "and the next transaction follows at once. The end of a catch-up "
     "publishes every resident it held back (~400,000 at a tenth of the "
     "city): in one transaction of many minutes PostgreSQL could remove no "
     "dead row of any table meanwhile. 0: no limit."},
    {"batch.analyze.rows", GH_CONF_INT, "10000", 0, 0, 100000000, NULL, NULL,
     "A batch that brings at least this many rows of an entity, and at "
     "least a tenth of what this process applied of it before, analyzes "
     "the table they went to (ANALYZE, in its transaction) before "
     "resolving and refreshing the views: PostgreSQL's statistics, which "
     "autovacuum gathers a minute later at best, would describe the table "
     "without them, and the views' joins over the first households of a "
     "catch-up were planned for a handful of rows (minutes instead of "
     "seconds). An entity's first tenth of this many rows in the process "
     "is analyzed once whatever the batches' size: statistics taken before "
     "any row of it came count its partial indexes as empty, and refreshes "
     "then scan them whole for each row. 0: never."},
    {"batch.max.entity.messages", GH_CONF_INT, "60000", 0, 1, 1000000, NULL,
     NULL,
     "Most messages of the other entities (grids, households, ...) applied "
     "in the same transaction. They cost a fraction of a person's (no "
     "resolution), so a cap of their own keeps the persons' batches as "
     "large as they would be without them: each batch's resolution has a "
     "cost of its own."},
    {"batch.neighbourhood.max.records", GH_CONF_INT, "100", 0, 0, 100000, NULL,
     NULL,
     "A batch with at most this many person records (and no grid rows or "
     "snapshot markers) holds the resolution lock shared and locks only the "
     "blocking keys and persons its records reach (its neighbourhood, "
     "docs/scaling.md): batches of this process and of other instances "
     "whose records share no key and no person resolve at once. A larger "
     "batch, which would take thousands of such locks (each a slot of "
     "PostgreSQL's lock table, max_locks_per_transaction), holds the lock "
     "alone. 0: every batch alone. Every instance over one database may "
     "use its own value."},
    {"batch.max.ms", GH_CONF_INT, "500", 0, 1, 60000, NULL, NULL,
     "Longest wait to fill a batch."},
    {"batch.linger.ms", GH_CONF_INT, "10", 0, 0, 60000, NULL, NULL,
     "A batch that has messages is applied once no more arrive for this "
     "long (or batch.max.ms after it began, or when full): under a steady "
     "stream the next batch gathers while one is applied, so the wait for a "
     "full batch is only paid by a trickle. As large as batch.max.ms: "
     "always wait for a full batch."},
    {"priority.person.lag", GH_CONF_INT, "1000", 0, 0, 100000000, NULL, NULL,
     "Persons first: once at least this many person messages wait, the "
     "other entities' topics are paused until fewer than a tenth as many "
     "do (a bulk load of households or registrations never delays identity "
     "resolution; docs/grid.md). 0: every topic is read alike."},
    {"priority.person.lane", GH_CONF_LIST, "person,grid,building", 0, 0, 0,
     NULL, NULL,
     "The entities whose topics are read beside the persons' while a person "
     "backlog pauses the others (priority.person.lag); person is always "
     "among them. Grids and buildings by default: a building's view needs "
     "no person (its residents are found through their registrations, "
     "which wait), made during the persons' catch-up it is not left for its "
     "end, and a change of the grid hierarchy refreshes every building "
     "again, so the grids come first (docs/grid.md, \"Persons first\"). "
     "person alone: they wait with the others. An entity schemas.dir has "
     "no schema for (a typo) stops the hub at start."},
    {"priority.person.max.ms", GH_CONF_INT, "60000", 0, 1, 86400000, NULL, NULL,
     "Longest the other entities' topics stay paused for persons; then they "
     "run for a batch at least, so a steady flood of persons cannot starve "
     "them."},
    {"outbox.batch", GH_CONF_INT, "10000", 0, 1, 1000000, NULL, NULL,
     "Outbox rows published per relay round."},
    {"outbox.poll.ms", GH_CONF_INT, "500", 0, 10, 60000, NULL, NULL,
     "How often the relay looks for outbox rows written by others (steward "
     "actions)."},
    GH_RESOLVER_PROPS,
    GH_CONF_INCLUDE_TABLE(gh_grid_props),
    GH_CONF_RETRY_PROPS,
    GH_SHUTDOWN_TIMEOUT_PROP,
    GH_METRICS_PROPS,
    GH_CONF_LOG_PROPS,
    GH_CONF_END};
