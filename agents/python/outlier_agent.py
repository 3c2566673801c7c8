"""Agent 1, outlier: the README's rule in the seed's style.

Keeps each user's last 50 amounts; alerts when an amount is above 3x their
mean and above 500.00 once 3 amounts are known.
"""
from collections import defaultdict, deque

from common import cents, consumer, transactions

HISTORY = 50
MIN_HISTORY = 3
FACTOR = 3
MIN_AMOUNT_CENTS = 50000

history = defaultdict(lambda: deque(maxlen=HISTORY))

print("Outlier agent listening for transactions...")
for tx in transactions(consumer("outlier-agent-group")):
    user_id, amount = tx["user_id"], cents(tx["amount"])
    past = history[user_id]
    if len(past) >= MIN_HISTORY and amount > MIN_AMOUNT_CENTS and amount > FACTOR * (sum(past) / len(past)):
        print(f"ANOMALY DETECTED: User {user_id} spent ${amount / 100:.2f} (Significantly higher than average)")
    past.append(amount)
