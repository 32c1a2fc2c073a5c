"""Run the Ingestor with worker processes until killed: ``python run_ingestor.py CONFIG``.

CONFIG is a JSON driftline config. Used by the kill -9 test: the daemon's own
``driftline run`` does not pass a worker spec to the Ingestor yet.
"""

from __future__ import annotations

import json
import sys
import threading

from monitor.config import Config
from monitor.ingest import Ingestor
from monitor.ingest_workers import WorkerSpec
from monitor.source.consumer import KafkaSource
from monitor.source.decode import Decoder
from monitor.source.sampling import Sampler
from monitor.store.factory import open_store


def main(path: str) -> None:
    config = Config.model_validate(json.loads(open(path).read()))
    store = open_store(config.store)
    store.migrate()
    ingestor: Ingestor | None = None

    def revoked(partitions: set[tuple[str, int]]) -> None:
        if ingestor is not None:
            ingestor.forget_partitions(partitions)

    source = KafkaSource(config.source, on_revoked=revoked)
    ingestor = Ingestor(
        source,
        Decoder(config.source),
        Sampler(config.source.sampling),
        store,
        config.ingest,
        threading.Event(),
        worker_spec=WorkerSpec(config.source, config.store),
    )
    print("ingesting", flush=True)
    while True:
        ingestor.step()


if __name__ == "__main__":
    main(sys.argv[1])
