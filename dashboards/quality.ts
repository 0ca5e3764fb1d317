import { DashboardBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { PanelBuilder as TimeseriesPanel } from '@grafana/grafana-foundation-sdk/timeseries';
import { DataqueryBuilder as PrometheusQuery } from '@grafana/grafana-foundation-sdk/prometheus';
import { GraphDrawStyle } from '@grafana/grafana-foundation-sdk/common';
import { INFLUX_DATASOURCE, PROMETHEUS_DATASOURCE, influxql, deviceLegend } from './influxql.js';
import { placeVariables } from './variables.js';

/**
 * Whether the data can be trusted: what was rejected and why, readings per interval (a gap is a
 * dip to zero), how late readings arrive, and the spool and writer (from /metrics, through a
 * Prometheus that scrapes it).
 */
export function qualityDashboard() {
  const builder = new DashboardBuilder('Cold chain — data quality').uid('coldchain-quality').tags(['coldchain', 'generated']).refresh('1m').time({ from: 'now-24h', to: 'now' }).timezone('browser');
  for (const variable of placeVariables()) builder.withVariable(variable);
  builder.withPanel(
    new TimeseriesPanel()
      .legend(deviceLegend())
      .title('Rejected messages by reason')
      .datasource(INFLUX_DATASOURCE)
      .drawStyle(GraphDrawStyle.Bars)
      .withTarget(influxql('SELECT count("bytes") FROM "rejects" WHERE $timeFilter GROUP BY time($__interval), "reason" fill(0)').refId('A').alias('$tag_reason'))
      .height(8)
      .span(12),
  );
  builder.withPanel(
    new TimeseriesPanel()
      .legend(deviceLegend())
      .title('Readings per interval, per device (gaps drop to zero)')
      .datasource(INFLUX_DATASOURCE)
      .withTarget(influxql('SELECT count("temperature") FROM "readings" WHERE "siteId" =~ /^$site$/ AND "locationId" =~ /^$location$/ AND "deviceId" =~ /^$device$/ AND $timeFilter GROUP BY time($__interval), "deviceId" fill(0)').refId('A').alias('$tag_deviceId'))
      .height(8)
      .span(12),
  );
  // InfluxQL cannot subtract a point's timestamp from a field; the newest receive time per bucket
  // against the bucket's start shows how late store-and-forward readings arrived (too high by
  // at most one $__interval).
  builder.withPanel(
    new TimeseriesPanel()
      .legend(deviceLegend())
      .title('Ingest lag: latest server receive time − bucket start')
      .datasource(INFLUX_DATASOURCE)
      .unit('ms')
      .withTarget(influxql('SELECT max("receivedAt") FROM "readings" WHERE "siteId" =~ /^$site$/ AND "deviceId" =~ /^$device$/ AND $timeFilter GROUP BY time($__interval), "deviceId" fill(none)').refId('A').alias('$tag_deviceId'))
      .withTransformation({ id: 'calculateField', options: { mode: 'binary', binary: { left: 'max', operator: '-', right: 'Time' }, alias: 'lag', replaceFields: true } })
      .height(8)
      .span(12),
  );
  builder.withPanel(
    new TimeseriesPanel()
      .legend(deviceLegend())
      .title('Spool depth and InfluxDB write failures (Prometheus)')
      .datasource(PROMETHEUS_DATASOURCE)
      .withTarget(new PrometheusQuery().expr('coldchain_spool_depth_records').legendFormat('spool records').refId('A').datasource(PROMETHEUS_DATASOURCE))
      .withTarget(new PrometheusQuery().expr('coldchain_spool_oldest_age_seconds').legendFormat('oldest pending (s)').refId('B').datasource(PROMETHEUS_DATASOURCE))
      .withTarget(new PrometheusQuery().expr('increase(coldchain_influx_write_failures_total[$__rate_interval])').legendFormat('write failures').refId('C').datasource(PROMETHEUS_DATASOURCE))
      .height(8)
      .span(12),
  );
  return builder;
}
