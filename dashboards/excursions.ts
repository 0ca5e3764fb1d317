import { DashboardBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { PanelBuilder as TimeseriesPanel } from '@grafana/grafana-foundation-sdk/timeseries';
import { PanelBuilder as TablePanel } from '@grafana/grafana-foundation-sdk/table';
import { GraphDrawStyle } from '@grafana/grafana-foundation-sdk/common';
import { INFLUX_DATASOURCE, PLACE_FILTER, influxql, deviceLegend } from './influxql.js';
import { placeVariables } from './variables.js';

/** Alert events (alert_events): how often, of what kind, and the latest transitions with who did what. */
export function excursionsDashboard() {
  const builder = new DashboardBuilder('Cold chain — excursions and alerts')
    .uid('coldchain-excursions')
    .tags(['coldchain', 'generated'])
    .refresh('1m')
    .time({ from: 'now-7d', to: 'now' })
    .timezone('browser');
  for (const variable of placeVariables()) builder.withVariable(variable);
  const where = `${PLACE_FILTER} AND $timeFilter`;
  builder.withPanel(
    new TimeseriesPanel()
      .legend(deviceLegend())
      .title('Alarms raised, by kind')
      .datasource(INFLUX_DATASOURCE)
      .drawStyle(GraphDrawStyle.Bars)
      .fillOpacity(80)
      .withTarget(
        influxql(`SELECT count("state") FROM "alert_events" WHERE "event" = 'activated' AND ${where} GROUP BY time($__interval), "kind" fill(0)`)
          .refId('A')
          .alias('$tag_kind'),
      )
      .height(8)
      .span(12),
  );
  builder.withPanel(
    new TimeseriesPanel()
      .legend(deviceLegend())
      .title('Peak temperature of alarms, by place')
      .datasource(INFLUX_DATASOURCE)
      .unit('celsius')
      .drawStyle(GraphDrawStyle.Points)
      .withTarget(
        influxql(`SELECT max("peak") FROM "alert_events" WHERE "kind" =~ /^temperature/ AND ${where} GROUP BY time($__interval), "locationId" fill(none)`)
          .refId('A')
          .alias('$tag_locationId'),
      )
      .height(8)
      .span(12),
  );
  // Tags selected as columns, not grouped: GROUP BY would make one series per combination and
  // apply the LIMIT to each, so the table would not be "the latest 100" any more.
  builder.withPanel(
    new TablePanel()
      .title('Latest alert events (transitions, notifications, signatures)')
      .datasource(INFLUX_DATASOURCE)
      .withTarget(
        influxql(
          `SELECT "event", "kind", "severity", "state", "deviceId", "locationId", "peak", "threshold", "actor", "printedName", "comment", "alertId" FROM "alert_events" WHERE ${where} ORDER BY time DESC LIMIT 100`,
        )
          .refId('A')
          .table(),
      )
      .overrideByRegexp('^(peak|threshold)$', [{ id: 'unit', value: 'celsius' }])
      .height(12)
      .span(24),
  );
  return builder;
}
