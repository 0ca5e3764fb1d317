import { QueryVariableBuilder, VariableRefresh, VariableSort } from '@grafana/grafana-foundation-sdk/dashboard';
import { INFLUX_DATASOURCE } from './influxql.js';

/** site → location → device, each narrowed by the one before (Grafana's multi-value regex form). */
export function placeVariables() {
  const variable = (name: string, label: string, query: string) =>
    new QueryVariableBuilder(name).label(label).datasource(INFLUX_DATASOURCE).query(query).definition(query).refresh(VariableRefresh.OnTimeRangeChanged).sort(VariableSort.AlphabeticalAsc).multi(true).includeAll(true).allValue('.*');
  return [
    variable('site', 'Site', 'SHOW TAG VALUES FROM "readings" WITH KEY = "siteId"'),
    variable('location', 'Location', 'SHOW TAG VALUES FROM "readings" WITH KEY = "locationId" WHERE "siteId" =~ /^$site$/'),
    variable('device', 'Device', 'SHOW TAG VALUES FROM "readings" WITH KEY = "deviceId" WHERE "locationId" =~ /^$location$/'),
  ];
}
