#!/usr/bin/python3
"""Prints every message value of one Kafka topic, one per line, as a
consumer with only python3-confluent-kafka would read it: how the audit
tests take the signed tree heads from the audit topic (copies outside the
hub database). Reads each partition from its start to its high watermark.
Usage: dump_topic.py BOOTSTRAP TOPIC [TIMEOUT_SECONDS]"""
import os
import sys
import time

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition


def main():
    if len(sys.argv) not in (3, 4):
        print(__doc__, file=sys.stderr)
        return 2
    bootstrap, topic = sys.argv[1], sys.argv[2]
    deadline = time.time() + (float(sys.argv[3]) if len(sys.argv) == 4
                              else 30.0)
    # assign() needs a group id; nothing joins or commits.
    c = Consumer({"bootstrap.servers": bootstrap,
                  "group.id": "dump-topic-%d" % os.getpid(),
                  "enable.auto.commit": False,
                  "auto.offset.reset": "earliest"})
    meta = c.list_topics(topic, timeout=10).topics.get(topic)
    if meta is None or meta.error is not None or not meta.partitions:
        print("dump_topic.py: no topic %s" % topic, file=sys.stderr)
        return 1
    ends = {}
    for p in meta.partitions:
        lo, hi = c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
        if hi > lo:
            ends[p] = hi
    c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in ends])
    while ends and time.time() < deadline:
        m = c.poll(0.5)
        if m is None or m.error():
            continue
        if m.value() is not None:
            print(m.value().decode("utf-8"))
        if m.offset() + 1 >= ends.get(m.partition(), 0):
            ends.pop(m.partition(), None)
    c.close()
    if ends:
        print("dump_topic.py: timed out before the end of %s" % topic,
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
