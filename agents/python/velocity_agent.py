"""Agent 2, velocity: the README's rule in the seed's style.

Score 40 if the user made more than 5 transactions in the last 60 s (event
time, the current one included), +50 if the amount is above 4000, +10 for
AMEX; alert above 70.
"""
from collections import defaultdict

from common import cents, consumer, transactions

WINDOW_US = 60 * 1000 * 1000
MAX_COUNT = 5
HIGH_AMOUNT_CENTS = 400000
THRESHOLD = 70

seen = defaultdict(list)  # user -> created_at (µs) of their recent transactions

print("Velocity agent listening for transactions...")
for tx in transactions(consumer("velocity-agent-group")):
    user_id, amount, at = tx["user_id"], cents(tx["amount"]), int(tx["created_at"])
    cut = at - WINDOW_US
    times = [t for t in seen[user_id] if t > cut] + [at]
    seen[user_id] = times
    score = 0
    if sum(1 for t in times if cut < t <= at) > MAX_COUNT:
        score += 40
    if amount > HIGH_AMOUNT_CENTS:
        score += 50
    if tx.get("card_type") == "AMEX":
        score += 10
    if score > THRESHOLD:
        print(f"HIGH FRAUD ALERT: User {user_id} | Score: {score} | Amt: {amount / 100:.2f}")
