#!/usr/bin/python3
"""Prints how many messages of TOPICS a consumer group has not committed
yet: the sum over their partitions of high watermark minus committed
offset (the low watermark where the group committed nothing). The hub
commits a batch's offsets only after its database transaction, so this is
what it has still to apply, unlike its own consumer_lag_messages gauge
(what it has not fetched). How the demo tells that the hub caught up.
Usage: group_lag.py BOOTSTRAP GROUP TOPIC[,TOPIC...]"""
import sys

from confluent_kafka import Consumer, TopicPartition


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    bootstrap, group, topics = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
    # Only reads the group's committed offsets: it never joins the group.
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                  "enable.auto.commit": False})
    try:
        meta = c.list_topics(timeout=10).topics
        parts = []
        for t in topics:
            if t not in meta or meta[t].error is not None:
                print("group_lag.py: no topic %s" % t, file=sys.stderr)
                return 1
            parts += [TopicPartition(t, p) for p in meta[t].partitions]
        lag = 0
        for tp in c.committed(parts, timeout=10):
            lo, hi = c.get_watermark_offsets(tp, timeout=10)
            lag += hi - (tp.offset if tp.offset >= 0 else lo)
        print(lag)
        return 0
    finally:
        c.close()


if __name__ == "__main__":
    sys.exit(main())
