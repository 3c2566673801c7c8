# my_agent.py: the outlier rule, its alert line on stdout, no signal handling
# (SIGTERM ends it without leaving its consumer group; cdcbench removes it).
import json
import os
from collections import defaultdict, deque

from kafka import KafkaConsumer

consumer = KafkaConsumer(
    os.environ["KAFKA_TOPIC"],
    bootstrap_servers=os.environ["KAFKA_BOOTSTRAP_SERVERS"],
    group_id=os.environ["KAFKA_GROUP_ID"],
    auto_offset_reset=os.environ["AUTO_OFFSET_RESET"],
)
history = defaultdict(lambda: deque(maxlen=50))  # each user's last 50 amounts, in cents
for message in consumer:
    tx = json.loads(message.value)["payload"]["after"]
    cents = round(tx["amount"] * 100)
    past = history[tx["user_id"]]
    if len(past) >= 3 and cents > 50000 and cents > 3 * sum(past) / len(past):
        print(f"ANOMALY DETECTED: User {tx['user_id']} spent ${cents / 100:.2f}")
    past.append(cents)
