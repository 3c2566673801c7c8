"""What both reference agents share: the consumer, as the seed's agents set it up.

Everything comes from the environment, as in the seed: KAFKA_BOOTSTRAP_SERVERS,
KAFKA_TOPIC, KAFKA_GROUP_ID and AUTO_OFFSET_RESET (cdcbench sets all four when
it starts an agent).
"""
import json
import os
import signal
import sys

from kafka import KafkaConsumer


def consumer(default_group):
    """A kafka-python consumer of the change topic in the agent's own group."""
    # SIGTERM (cdcbench's stop, docker stop) ends the loop through SystemExit,
    # so that the consumer leaves its group instead of timing out of it.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    return KafkaConsumer(
        os.environ.get("KAFKA_TOPIC", "dbserver1.public.transactions"),
        bootstrap_servers=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "localhost:9092").split(","),
        group_id=os.environ.get("KAFKA_GROUP_ID", default_group),
        auto_offset_reset=os.environ.get("AUTO_OFFSET_RESET", "earliest"),
    )


def transactions(cons):
    """Yields payload.after of every insert, with or without schemas in the envelope."""
    try:
        for message in cons:
            if message.value is None:  # tombstone
                continue
            event = json.loads(message.value)
            payload = event.get("payload", event) if isinstance(event, dict) else None
            if not payload or payload.get("op") not in ("c", "r"):
                continue
            after = payload.get("after")
            if after:
                yield after
    finally:
        cons.close()


def cents(amount):
    """The amount in cents: numeric(10,2) arrives as a double."""
    return int(round(float(amount) * 100))
