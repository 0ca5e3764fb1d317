import { DashboardBuilder, ThresholdsConfigBuilder, ThresholdsMode } from '@grafana/grafana-foundation-sdk/dashboard';
import { PanelBuilder as TimeseriesPanel } from '@grafana/grafana-foundation-sdk/timeseries';
import { PanelBuilder as GeomapPanel, MapViewConfigBuilder } from '@grafana/grafana-foundation-sdk/geomap';
import { PanelBuilder as StatPanel } from '@grafana/grafana-foundation-sdk/stat';
import {
  FrameGeometrySourceBuilder,
  FrameGeometrySourceMode,
  GraphThresholdsStyleConfigBuilder,
  GraphThresholdsStyleMode,
  MapLayerOptionsBuilder,
} from '@grafana/grafana-foundation-sdk/common';
import type { Config } from '../core/config/schema.js';
import { INFLUX_DATASOURCE, MERGE, PLACE_FILTER, anyOf, influxql, deviceLegend } from './influxql.js';
import { rangeThresholds } from './live.js';
import { placeVariables } from './variables.js';

/** Vehicles: compartment temperatures against their product range, last positions on a map, batteries. */
export function fleetDashboard(config: Config) {
  const compartments = config.sites.filter((s) => s.kind === 'vehicle').flatMap((s) => s.locations);
  const profiles = new Map(config.profiles.map((p) => [p.id, p]));
  const inVehicles = `"locationId" =~ ${anyOf(compartments.map((l) => l.id))} AND ${PLACE_FILTER} AND $timeFilter`;
  const builder = new DashboardBuilder('Cold chain — fleet')
    .uid('coldchain-fleet')
    .tags(['coldchain', 'generated'])
    .refresh('30s')
    .time({ from: 'now-12h', to: 'now' })
    .timezone('browser');
  for (const variable of placeVariables({ locations: compartments.map((l) => l.id), labels: { site: 'Vehicle' } })) builder.withVariable(variable);

  // One panel per product range rather than per compartment: a fleet has many trucks but few
  // ranges, and thresholds are per panel.
  const byProfile = new Map<string, string[]>();
  for (const compartment of compartments) byProfile.set(compartment.profile, [...(byProfile.get(compartment.profile) ?? []), compartment.id]);
  for (const [profileId, locationIds] of byProfile) {
    const { min, max } = profiles.get(profileId)!.temperature;
    builder.withPanel(
      new TimeseriesPanel()
        .legend(deviceLegend())
        .title(`Compartment temperatures — ${profiles.get(profileId)!.name ?? profileId} (${min}…${max} °C)`)
        .datasource(INFLUX_DATASOURCE)
        .unit('celsius')
        .thresholds(rangeThresholds(min, max))
        .thresholdsStyle(new GraphThresholdsStyleConfigBuilder().mode(GraphThresholdsStyleMode.LineAndArea))
        .withTarget(
          influxql(
            `SELECT mean("temperature") FROM "readings" WHERE "locationId" =~ ${anyOf(locationIds)} AND ${inVehicles} GROUP BY time($__interval), "deviceId" fill(none)`,
          )
            .refId('A')
            .alias('$tag_deviceId'),
        )
        .height(9)
        .span(14),
    );
  }

  const single = byProfile.size === 1 ? profiles.get([...byProfile.keys()][0]!) : undefined;
  const map = new GeomapPanel()
    .title('Last position (colour: temperature)')
    .datasource(INFLUX_DATASOURCE)
    .view(new MapViewConfigBuilder().id('fit').lat(0).lon(0).zoom(8))
    .layers([
      new MapLayerOptionsBuilder()
        .type('markers')
        .name('vehicles')
        .tooltip(true)
        .location(new FrameGeometrySourceBuilder().mode(FrameGeometrySourceMode.Coords).latitude('latitude').longitude('longitude'))
        .config({
          showLegend: true,
          style: {
            size: { fixed: 8 },
            color: single ? { field: 'temperature', fixed: 'green' } : { fixed: 'green' },
            text: { mode: 'field', field: 'deviceId', fixed: '' },
            textConfig: { fontSize: 11, offsetY: -12, textAlign: 'center', textBaseline: 'bottom' },
          },
        }),
    ])
    // Table rows grouped by device come back as one frame per device; the markers layer reads one.
    .withTarget(
      influxql(
        `SELECT last("lat") AS "latitude", last("lon") AS "longitude", last("temperature") AS "temperature" FROM "readings" WHERE ${inVehicles} GROUP BY "deviceId"`,
      )
        .refId('A')
        .table(),
    )
    .withTransformation(MERGE)
    .overrideByName('temperature', [{ id: 'unit', value: 'celsius' }])
    .height(9)
    .span(10);
  if (single) map.thresholds(rangeThresholds(single.temperature.min, single.temperature.max));
  builder.withPanel(map);

  builder.withPanel(
    new StatPanel()
      .title('Device battery')
      .datasource(INFLUX_DATASOURCE)
      .unit('percent')
      .min(0)
      .max(100)
      .thresholds(
        new ThresholdsConfigBuilder().mode(ThresholdsMode.Absolute).steps([
          { value: null, color: 'red' },
          { value: 20, color: 'orange' },
          { value: 40, color: 'green' },
        ]),
      )
      .withTarget(influxql(`SELECT last("battery") FROM "readings" WHERE ${inVehicles} GROUP BY "deviceId"`).refId('A').alias('$tag_deviceId'))
      .height(5)
      .span(24),
  );
  return builder;
}
