import { DashboardBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { PanelBuilder as TimeseriesPanel } from '@grafana/grafana-foundation-sdk/timeseries';
import { PanelBuilder as GeomapPanel, MapViewConfigBuilder } from '@grafana/grafana-foundation-sdk/geomap';
import { PanelBuilder as StatPanel } from '@grafana/grafana-foundation-sdk/stat';
import { FrameGeometrySourceBuilder, FrameGeometrySourceMode, MapLayerOptionsBuilder } from '@grafana/grafana-foundation-sdk/common';
import type { Config } from '../core/config/schema.js';
import { INFLUX_DATASOURCE, anyOf, influxql, deviceLegend } from './influxql.js';
import { rangeThresholds } from './live.js';

/** Vehicles: compartment temperatures, last positions on a map, batteries. */
export function fleetDashboard(config: Config) {
  const compartments = config.sites.filter((s) => s.kind === 'vehicle').flatMap((s) => s.locations);
  const inVehicles = `"locationId" =~ ${anyOf(compartments.map((l) => l.id))} AND $timeFilter`;
  const profile = config.profiles.find((p) => p.id === compartments[0]?.profile);
  const builder = new DashboardBuilder('Cold chain — fleet').uid('coldchain-fleet').tags(['coldchain', 'generated']).refresh('30s').time({ from: 'now-12h', to: 'now' }).timezone('browser');
  const temperatures = new TimeseriesPanel()
      .legend(deviceLegend())
    .title('Compartment temperatures')
    .datasource(INFLUX_DATASOURCE)
    .unit('celsius')
    .withTarget(influxql(`SELECT mean("temperature") FROM "readings" WHERE ${inVehicles} GROUP BY time($__interval), "deviceId" fill(none)`).refId('A').alias('$tag_deviceId'))
    .height(9)
    .span(14);
  if (profile) temperatures.thresholds(rangeThresholds(profile.temperature.min, profile.temperature.max));
  builder.withPanel(temperatures);
  builder.withPanel(
    new GeomapPanel()
      .title('Last position')
      .datasource(INFLUX_DATASOURCE)
      .view(new MapViewConfigBuilder().id('fit').lat(31.2).lon(121.4).zoom(7))
      .layers([new MapLayerOptionsBuilder().type('markers').name('vehicles').tooltip(true).location(new FrameGeometrySourceBuilder().mode(FrameGeometrySourceMode.Coords).latitude('latitude').longitude('longitude'))])
      .withTarget(influxql(`SELECT last("lat") AS "latitude", last("lon") AS "longitude", last("temperature") AS "temperature" FROM "readings" WHERE ${inVehicles} GROUP BY "deviceId"`).refId('A').table())
      .height(9)
      .span(10),
  );
  builder.withPanel(
    new StatPanel()
      .title('Device battery')
      .datasource(INFLUX_DATASOURCE)
      .unit('percent')
      .withTarget(influxql(`SELECT last("battery") FROM "readings" WHERE ${inVehicles} GROUP BY "deviceId"`).refId('A').alias('$tag_deviceId'))
      .height(5)
      .span(24),
  );
  return builder;
}
