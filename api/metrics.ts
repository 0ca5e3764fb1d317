import { Counter, Gauge, Histogram, Registry as PromRegistry, collectDefaultMetrics } from 'prom-client';
import type { IngestCounters } from '../ingestor/pipeline.js';
import type { Spool } from '../ingestor/spool.js';
import type { SpoolWriter } from '../ingestor/writer.js';

export interface MetricSources {
  counters: IngestCounters;
  spool: Spool;
  writer: SpoolWriter;
  connectedDevices: () => number;
}

/**
 * Prometheus metrics read from the components' own counters at scrape time, so the ingest hot
 * path only increments plain numbers.
 */
export function createMetrics(sources: MetricSources): PromRegistry {
  const registry = new PromRegistry();
  collectDefaultMetrics({ register: registry, prefix: 'coldchain_process_' });
  const { counters, spool, writer } = sources;

  new Counter({
    name: 'coldchain_readings_accepted_total',
    help: 'Readings validated and made durable in the spool',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(counters.acceptedReadings);
    },
  });
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
  new Gauge({
    name: 'coldchain_spool_depth_records',
    help: 'Spool records not yet confirmed by InfluxDB',
    registers: [registry],
    collect() {
      this.set(spool.depth.records);
    },
  });
  new Gauge({
    name: 'coldchain_spool_depth_bytes',
    help: 'Spool bytes not yet confirmed by InfluxDB',
    registers: [registry],
    collect() {
      this.set(spool.depth.bytes);
    },
  });
  new Gauge({
    name: 'coldchain_spool_oldest_age_seconds',
    help: 'Age of the oldest record waiting in the spool (0 when empty)',
    registers: [registry],
    collect() {
      const oldest = writer.stats.oldestPendingAt;
      this.set(oldest === undefined || spool.depth.records === 0 ? 0 : (Date.now() - oldest) / 1000);
    },
  });
  new Counter({
    name: 'coldchain_influx_points_written_total',
    help: 'Points InfluxDB confirmed',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(writer.stats.pointsWritten);
    },
  });
  new Counter({
    name: 'coldchain_influx_points_dropped_total',
    help: 'Points InfluxDB refused for good (see dead-letter.ndjson)',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(writer.stats.pointsDropped);
    },
  });
  new Counter({
    name: 'coldchain_influx_write_failures_total',
    help: 'InfluxDB write attempts that failed and were retried',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(writer.stats.failures);
    },
  });
  new Histogram({
    name: 'coldchain_influx_write_seconds',
    help: 'Latency of successful InfluxDB /write calls',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
    collect() {
      for (const seconds of writer.drainLatencies()) this.observe(seconds);
    },
  });
  new Gauge({
    name: 'coldchain_mqtt_connected_devices',
    help: 'Devices with a live MQTT connection',
    registers: [registry],
    collect() {
      this.set(sources.connectedDevices());
    },
  });
  return registry;
}
