#!/bin/sh
# One-shot: create Driftline's topics once the broker answers (idempotent).
set -eu
BOOTSTRAP="${BOOTSTRAP:-kafka:9092}"
TOPICS="${TOPICS:-model-events model-labels driftline-retrain}"
PARTITIONS="${PARTITIONS:-6}"
KAFKA_BIN="${KAFKA_BIN:-/opt/kafka/bin}"
i=0
until "$KAFKA_BIN/kafka-topics.sh" --bootstrap-server "$BOOTSTRAP" --list >/dev/null 2>&1; do
  i=$((i + 1))
  if [ "$i" -ge 60 ]; then echo "broker $BOOTSTRAP not reachable" >&2; exit 1; fi
  sleep 2
done
for topic in $TOPICS; do
  "$KAFKA_BIN/kafka-topics.sh" --bootstrap-server "$BOOTSTRAP" --create --if-not-exists \
    --topic "$topic" --partitions "$PARTITIONS" --replication-factor 1
done
echo "topics ready: $TOPICS"
