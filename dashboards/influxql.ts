import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import { LegendDisplayMode, LegendPlacement, VizLegendOptionsBuilder, type DataSourceRef } from '@grafana/grafana-foundation-sdk/common';

/** Datasource uids the provisioning file creates and every panel refers to. */
export const INFLUX_DATASOURCE: DataSourceRef = { type: 'influxdb', uid: 'coldchain-influxdb' };
export const PROMETHEUS_DATASOURCE: DataSourceRef = { type: 'prometheus', uid: 'coldchain-prometheus' };

/** A raw InfluxQL target, as Grafana's InfluxDB datasource stores one (the SDK has no builder for it). */
export interface InfluxQLQuery extends cog.Dataquery {
  refId?: string;
  hide?: boolean;
  datasource: DataSourceRef;
  query: string;
  rawQuery: true;
  resultFormat: 'time_series' | 'table';
  alias?: string;
}

export class InfluxQLQueryBuilder implements cog.Builder<cog.Dataquery> {
  private readonly internal: InfluxQLQuery;

  constructor(query: string) {
    this.internal = { datasource: INFLUX_DATASOURCE, query, rawQuery: true, resultFormat: 'time_series', _implementsDataqueryVariant() {} };
  }

  build(): InfluxQLQuery {
    return this.internal;
  }

  refId(refId: string): this {
    this.internal.refId = refId;
    return this;
  }

  table(): this {
    this.internal.resultFormat = 'table';
    return this;
  }

  alias(alias: string): this {
    this.internal.alias = alias;
    return this;
  }
}

export const influxql = (query: string) => new InfluxQLQueryBuilder(query);

/** InfluxQL's regex form of an id list, for `"locationId" =~ …`; an empty list matches no tag value. */
export const anyOf = (ids: string[]) => `/^(${ids.map((id) => id.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('|')})$/`;

/** Frames of several series (one per device) as one table, for panels that read a single frame. */
export const MERGE = { id: 'merge', options: {} };

/** Several devices per panel: their names must show. */
export const deviceLegend = () => new VizLegendOptionsBuilder().showLegend(true).displayMode(LegendDisplayMode.List).placement(LegendPlacement.Bottom);

/** The three place variables in Grafana's regex form (one value, several, or All = `.*`). */
export const PLACE_FILTER = '"siteId" =~ /^$site$/ AND "locationId" =~ /^$location$/ AND "deviceId" =~ /^$device$/';
