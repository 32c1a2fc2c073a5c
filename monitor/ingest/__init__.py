"""Ingest: Kafka records into the store, committed only once stored.

Modules, in the order a record meets them:

* :mod:`~monitor.ingest.loop` — the one run loop (open the source, step until stopped,
  measure lag), used by the daemon's process and by every ingest child process;
* :mod:`~monitor.ingest.ingestor` — one step: poll → decode → sample → store → commit;
* :mod:`~monitor.ingest.poll` — polling a step's records in chunks;
* :mod:`~monitor.ingest.writer` — the writer thread that stores chunks while polling goes on;
* :mod:`~monitor.ingest.retry` — store retries with the consumer paused and polled;
* :mod:`~monitor.ingest.checkpoint` — the offsets stored and owed a commit;
* :mod:`~monitor.ingest.counting` — the ingest metrics of each chunk;
* :mod:`~monitor.ingest.caps` — the decoder's caps learning what the store knows;
* :mod:`~monitor.ingest.child` and :mod:`~monitor.ingest.processes` — ``ingest.workers: N``:
  the loop in N child processes and their supervisor in the daemon;
* :mod:`~monitor.ingest.settings` — ``ingest:`` in driftline.yaml.

Nothing is re-exported here, so importing the settings (as :mod:`monitor.config` does)
loads no Kafka client.
"""
