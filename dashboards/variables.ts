import { QueryVariableBuilder, VariableRefresh, VariableSort } from '@grafana/grafana-foundation-sdk/dashboard';
import { INFLUX_DATASOURCE, anyOf } from './influxql.js';

/**
 * site → location → device, each narrowed by the one before. Multi-value with "All" as `.*`, so
 * queries use Grafana's regex form (`=~ /^$site$/`), which serves one, several and all values.
 * Values come from the tags of `readings`, so a place that never reported is not offered.
 * `locations` restricts the lists (the fleet dashboard offers only vehicle compartments).
 */
export function placeVariables(options: { locations?: string[]; labels?: { site?: string } } = {}) {
  const within = options.locations ? `"locationId" =~ ${anyOf(options.locations)}` : undefined;
  const where = (...conditions: Array<string | undefined>) => {
    const present = conditions.filter((c): c is string => c !== undefined);
    return present.length ? ` WHERE ${present.join(' AND ')}` : '';
  };
  const variable = (name: string, label: string, query: string) =>
    new QueryVariableBuilder(name)
      .label(label)
      .datasource(INFLUX_DATASOURCE)
      .query(query)
      .definition(query)
      .refresh(VariableRefresh.OnTimeRangeChanged)
      .sort(VariableSort.AlphabeticalAsc)
      .multi(true)
      .includeAll(true)
      .allValue('.*');
  return [
    variable('site', options.labels?.site ?? 'Site', `SHOW TAG VALUES FROM "readings" WITH KEY = "siteId"${where(within)}`),
    variable('location', 'Location', `SHOW TAG VALUES FROM "readings" WITH KEY = "locationId"${where('"siteId" =~ /^$site$/', within)}`),
    variable(
      'device',
      'Device',
      `SHOW TAG VALUES FROM "readings" WITH KEY = "deviceId"${where('"siteId" =~ /^$site$/', '"locationId" =~ /^$location$/', within)}`,
    ),
  ];
}
