import { DashboardBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { PanelBuilder as TimeseriesPanel } from '@grafana/grafana-foundation-sdk/timeseries';
import { DataqueryBuilder as PrometheusQuery } from '@grafana/grafana-foundation-sdk/prometheus';
import { GraphDrawStyle } from '@grafana/grafana-foundation-sdk/common';
import { INFLUX_DATASOURCE, PLACE_FILTER, PROMETHEUS_DATASOURCE, influxql, deviceLegend } from './influxql.js';
import type { Config } from '../core/config/schema.js';
import { placeVariables } from './variables.js';

/**
 * InfluxQL cannot do arithmetic with a point's timestamp (device time), so the subtraction is
 * Grafana's: every number field (one per device once the frames are joined on time, each keeping
 * its device name) minus the Time field. Fields are matched by type and name, not by display
 * name, which the `$tag_deviceId` alias changes. The result is the newest receive time of the
 * readings measured in a bucket minus the bucket's start: too high by at most one $__interval,
 * hours high for a store-and-forward upload. Needs Grafana 11 (binary operation on all number
 * fields).
 */
export const INGEST_LAG = {
  id: 'calculateField',
  options: {
    mode: 'binary',
    binary: { left: { matcher: { id: 'byType', options: 'number' } }, operator: '-', right: { matcher: { id: 'byName', options: 'Time' } } },
    replaceFields: true,
  },
};

/**
 * Whether the data can be trusted: what was rejected and why, readings per interval (a gap is a
 * dip to zero), how late readings arrive, and the spool and writer (from /metrics, through a
 * Prometheus that scrapes it).
 */
export function qualityDashboard(config: Config) {
  // Buckets no shorter than the slowest device's publish interval: a healthy device then counts
  // at least one reading in every bucket, and only a real gap drops to zero.
  const slowestMs = Math.max(60_000, ...config.devices.map((d) => d.interval));
  const builder = new DashboardBuilder('Cold chain — data quality')
    .uid('coldchain-quality')
    .tags(['coldchain', 'generated'])
    .refresh('1m')
    .time({ from: 'now-24h', to: 'now' })
    .timezone('browser');
  for (const variable of placeVariables()) builder.withVariable(variable);
  builder.withPanel(
    new TimeseriesPanel()
      .legend(deviceLegend())
      .title('Rejected messages by reason')
      .datasource(INFLUX_DATASOURCE)
      .drawStyle(GraphDrawStyle.Bars)
      // rejects carry no site or location (an unknown device has none): only the device applies.
      .withTarget(
        influxql('SELECT count("bytes") FROM "rejects" WHERE "deviceId" =~ /^$device$/ AND $timeFilter GROUP BY time($__interval), "reason" fill(0)')
          .refId('A')
          .alias('$tag_reason'),
      )
      .height(8)
      .span(12),
  );
  builder.withPanel(
    new TimeseriesPanel()
      .legend(deviceLegend())
      .title('Readings per interval, per device (gaps drop to zero)')
      .datasource(INFLUX_DATASOURCE)
      .interval(`${Math.ceil(slowestMs / 1000)}s`)
      .withTarget(
        influxql(`SELECT count("temperature") FROM "readings" WHERE ${PLACE_FILTER} AND $timeFilter GROUP BY time($__interval), "deviceId" fill(0)`)
          .refId('A')
          .alias('$tag_deviceId'),
      )
      .height(8)
      .span(12),
  );
  builder.withPanel(
    new TimeseriesPanel()
      .legend(deviceLegend())
      .title('Ingest lag: latest server receive time − device-time bucket')
      .datasource(INFLUX_DATASOURCE)
      .unit('ms')
      .withTarget(
        influxql(`SELECT max("receivedAt") FROM "readings" WHERE ${PLACE_FILTER} AND $timeFilter GROUP BY time($__interval), "deviceId" fill(none)`)
          .refId('A')
          .alias('$tag_deviceId'),
      )
      .withTransformation(INGEST_LAG)
      .height(8)
      .span(12),
  );
  // Per instance: with several ingest nodes scraped, each has its own spool and writer.
  const prometheus = (refId: string, expr: string, legend: string) =>
    new PrometheusQuery().expr(expr).legendFormat(legend).refId(refId).datasource(PROMETHEUS_DATASOURCE);
  builder.withPanel(
    new TimeseriesPanel()
      .legend(deviceLegend())
      .title('Spool: readings waiting for InfluxDB, age of the oldest (Prometheus)')
      .datasource(PROMETHEUS_DATASOURCE)
      .unit('short')
      .withTarget(prometheus('A', 'coldchain_spool_depth_records', '{{instance}} pending records'))
      .withTarget(prometheus('B', 'coldchain_spool_oldest_age_seconds', '{{instance}} oldest pending'))
      .overrideByQuery('B', [
        { id: 'unit', value: 's' },
        { id: 'custom.axisPlacement', value: 'right' },
      ])
      .height(8)
      .span(12),
  );
  builder.withPanel(
    new TimeseriesPanel()
      .legend(deviceLegend())
      .title('InfluxDB writes: failures and dropped points (Prometheus)')
      .datasource(PROMETHEUS_DATASOURCE)
      .unit('short')
      .drawStyle(GraphDrawStyle.Bars)
      .withTarget(prometheus('A', 'increase(coldchain_influx_write_failures_total[$__rate_interval])', '{{instance}} write failures'))
      .withTarget(prometheus('B', 'increase(coldchain_influx_points_dropped_total[$__rate_interval])', '{{instance}} points dropped'))
      .height(8)
      .span(24),
  );
  return builder;
}
