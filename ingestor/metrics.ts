import { Counter, Gauge, Histogram, Registry as PromRegistry, collectDefaultMetrics } from 'prom-client';
import type { BackupStatus } from '../backup/scheduler.js';
import type { IngestCounters } from './pipeline.js';
import type { Spool } from './spool.js';
import type { SpoolWriter } from './writer.js';

export interface MetricSources {
  counters: IngestCounters;
  spool: Spool;
  writer: SpoolWriter;
  connectedDevices: () => number;
  /** The daily backup's state, when the service runs one. */
  backup?: () => BackupStatus;
}

/**
 * Prometheus metrics read from the components' own counters at scrape time, so the ingest hot
 * path only increments plain numbers.
 */
export function createMetrics(sources: MetricSources): PromRegistry {
  const registry = new PromRegistry();
  collectDefaultMetrics({ register: registry, prefix: 'coldchain_process_' });
  const { counters, spool, writer } = sources;
  const counter = (name: string, help: string, total: () => number) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(total());
      },
    });
  const gauge = (name: string, help: string, value: () => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(value());
      },
    });

  counter('coldchain_readings_accepted_total', 'Readings validated and made durable in the spool', () => counters.acceptedReadings);
  new Counter({
    name: 'coldchain_readings_rejected_total',
    help: 'Messages or readings quarantined, by reason',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [reason, count] of counters.rejected) this.inc({ reason }, count);
    },
  });
  new Counter({
    name: 'coldchain_reading_conflicts_total',
    help: 'Readings kept but flagged: a different reading for a stored device time (kind="value", kept as a revision), or a clock jump (kind="clock_jump")',
    labelNames: ['kind'],
    registers: [registry],
    collect() {
      this.reset();
      this.inc({ kind: 'value' }, counters.readingConflicts);
      this.inc({ kind: 'clock_jump' }, counters.clockJumps);
    },
  });
  counter(
    'coldchain_readings_checked_in_influxdb_total',
    'Readings the in-memory index could not vouch for (at or before a device time stored before the start, or older than it keeps), checked by the writer against InfluxDB',
    () => counters.readingsDeferred,
  );
  gauge('coldchain_spool_depth_records', 'Spool records not yet confirmed by InfluxDB', () => spool.depth.records);
  gauge('coldchain_spool_depth_bytes', 'Spool bytes not yet confirmed by InfluxDB', () => spool.depth.bytes);
  gauge('coldchain_spool_oldest_age_seconds', 'Age of the oldest record waiting in the spool (0 when empty)', () => {
    const oldest = writer.stats.oldestPendingAt;
    return oldest === undefined || spool.depth.records === 0 ? 0 : (Date.now() - oldest) / 1000;
  });
  counter('coldchain_influx_points_written_total', 'Points InfluxDB confirmed', () => writer.stats.pointsWritten);
  counter('coldchain_influx_points_dropped_total', 'Points InfluxDB refused for good (see dead-letter.ndjson)', () => writer.stats.pointsDropped);
  counter('coldchain_influx_write_failures_total', 'InfluxDB write attempts that failed and were retried', () => writer.stats.failures);
  new Histogram({
    name: 'coldchain_influx_write_seconds',
    help: 'Latency of successful InfluxDB /write calls',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
    collect() {
      for (const seconds of writer.drainLatencies()) this.observe(seconds);
    },
  });
  gauge('coldchain_mqtt_connected_devices', 'Devices with a live MQTT connection', sources.connectedDevices);
  const backup = sources.backup;
  if (backup) {
    gauge('coldchain_backup_age_seconds', 'Time since the last successful backup (-1: none yet)', () => {
      const last = backup().lastSuccessAt;
      return last === null ? -1 : (Date.now() - last) / 1000;
    });
    gauge('coldchain_backup_overdue', '1 when no backup succeeded within 26 hours (GSP: daily backup)', () => (backup().overdue ? 1 : 0));
  }
  return registry;
}
