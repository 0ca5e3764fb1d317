import { DashboardBuilder, RowBuilder, ThresholdsConfigBuilder, ThresholdsMode } from '@grafana/grafana-foundation-sdk/dashboard';
import { PanelBuilder as TimeseriesPanel } from '@grafana/grafana-foundation-sdk/timeseries';
import { PanelBuilder as StatPanel } from '@grafana/grafana-foundation-sdk/stat';
import { GraphThresholdsStyleConfigBuilder, GraphThresholdsStyleMode } from '@grafana/grafana-foundation-sdk/common';
import type { Config } from '../core/config/schema.js';
import { INFLUX_DATASOURCE, PLACE_FILTER, influxql, deviceLegend } from './influxql.js';
import { placeVariables } from './variables.js';

/** Blue below the product's minimum, green inside, red above: the profile's range, not a guess. */
export const rangeThresholds = (min: number, max: number) =>
  new ThresholdsConfigBuilder().mode(ThresholdsMode.Absolute).steps([
    { value: null, color: 'blue' },
    { value: min, color: 'green' },
    { value: max, color: 'red' },
  ]);

/** Live temperatures by site and location, each place with its own product range as thresholds. */
export function liveDashboard(config: Config) {
  const profiles = new Map(config.profiles.map((p) => [p.id, p]));
  const builder = new DashboardBuilder('Cold chain — live temperatures')
    .uid('coldchain-live')
    .tags(['coldchain', 'generated'])
    .refresh('30s')
    .time({ from: 'now-6h', to: 'now' })
    .timezone('browser');
  for (const variable of placeVariables()) builder.withVariable(variable);
  for (const site of config.sites) {
    builder.withRow(new RowBuilder(site.name ?? site.id));
    for (const location of site.locations) {
      const { min, max } = profiles.get(location.profile)!.temperature;
      // The place is fixed per panel; the variables still apply, so choosing a site or a device
      // empties the other places' panels instead of being silently ignored.
      const where = `"locationId" = '${location.id}' AND ${PLACE_FILTER} AND $timeFilter`;
      builder.withPanel(
        new TimeseriesPanel()
          .legend(deviceLegend())
          .title(`${location.name ?? location.id} (${min}…${max} °C)`)
          .datasource(INFLUX_DATASOURCE)
          .unit('celsius')
          .thresholds(rangeThresholds(min, max))
          .thresholdsStyle(new GraphThresholdsStyleConfigBuilder().mode(GraphThresholdsStyleMode.LineAndArea))
          .withTarget(
            influxql(`SELECT mean("temperature") FROM "readings" WHERE ${where} GROUP BY time($__interval), "deviceId" fill(none)`)
              .refId('A')
              .alias('$tag_deviceId'),
          )
          .height(8)
          .span(16),
      );
      builder.withPanel(
        new StatPanel()
          .title(`${location.name ?? location.id} now`)
          .datasource(INFLUX_DATASOURCE)
          .unit('celsius')
          .decimals(1)
          .thresholds(rangeThresholds(min, max))
          .withTarget(influxql(`SELECT last("temperature") FROM "readings" WHERE ${where} GROUP BY "deviceId"`).refId('A').alias('$tag_deviceId'))
          .height(8)
          .span(8),
      );
    }
  }
  builder.withRow(new RowBuilder('Humidity'));
  builder.withPanel(
    new TimeseriesPanel()
      .legend(deviceLegend())
      .title('Relative humidity')
      .datasource(INFLUX_DATASOURCE)
      .unit('humidity')
      .withTarget(
        influxql(`SELECT mean("humidity") FROM "readings" WHERE ${PLACE_FILTER} AND $timeFilter GROUP BY time($__interval), "deviceId" fill(none)`)
          .refId('A')
          .alias('$tag_deviceId'),
      )
      .height(8)
      .span(24),
  );
  return builder;
}
