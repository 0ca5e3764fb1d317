import type { RangeVersionUsed } from '../range-versions.js';
import type { ArrivalRun, SignedVersion, SinceSignature } from '../signed-version.js';
import type { Block } from './document.js';
import type { Formatter } from './i18n.js';

/**
 * The blocks of "signed means frozen" (issue 13, item 6): the range versions a report judged by,
 * the signed version's banner, and what changed after a signature. Their texts live here, in
 * English and 简体中文, so that these blocks stay one file.
 */

const TEXT = {
  en: {
    rangeVersions: 'Product range versions used (each reading judged by the one in force at its time)',
    version: 'Version',
    inForceFrom: 'In force from',
    until: 'Until',
    temperatureRange: 'Temperature (°C)',
    humidityRange: 'Humidity (%RH)',
    sinceRecords: 'since before records began',
    stillInForce: 'still in force',
    configured: 'configured (no recorded version)',
    signedVersion: 'Signed version: the report as it stood when the disposition was signed',
    decision: 'Disposition',
    signedBy: 'Signed by',
    signedAt: 'Signed at',
    asOf: 'Data as of',
    signedDigest: 'Digest signed',
    digestMatches: 'This rebuild gives the signed digest',
    yes: 'yes',
    no: 'no — the stored data under the signature has changed',
    unchanged: 'Data unchanged since the signature',
    changed: 'Data changed after the signature',
    digestNow: 'Digest now {now} ({nowReadings} readings); signed {signed} ({signedReadings} readings)',
    arrivalsSummary: '{n} reading(s) arrived after the signature ({kinds})',
    rangeSummary: '{n} product range change(s) recorded after the signature',
    custodySummary: '{n} custody event(s) recorded after the signature',
    arrivals: 'Readings that arrived after the signature',
    rangeChanges: 'Range changes recorded after the signature',
    custodyChanges: 'Custody events recorded after the signature',
    sensor: 'Sensor',
    place: 'Place',
    kind: 'What',
    readings: 'Readings',
    taken: 'Taken (device time)',
    arrived: 'Arrived',
    recordedAt: 'Recorded at',
    event: 'Event',
    at: 'At',
    late_upload: 'late upload into the signed period',
    revision: 'conflicting revision of a stored reading',
    new_reading: 'new reading after the signature',
  },
  'zh-CN': {
    rangeVersions: '所用产品范围版本（每条读数按其当时有效的范围判定）',
    version: '版本',
    inForceFrom: '生效自',
    until: '有效至',
    temperatureRange: '温度（°C）',
    humidityRange: '湿度（%RH）',
    sinceRecords: '记录开始之前即已生效',
    stillInForce: '仍然有效',
    configured: '配置中的范围（无已记录版本）',
    signedVersion: '签署时版本：质量放行签名时的报告',
    decision: '处置结论',
    signedBy: '签名人',
    signedAt: '签名时间',
    asOf: '数据截至',
    signedDigest: '签名时摘要',
    digestMatches: '本次重建得到签名时的摘要',
    yes: '是',
    no: '否——签名所依据的存储数据已改变',
    unchanged: '签名后数据未变化',
    changed: '签名后数据有变化',
    digestNow: '当前摘要 {now}（{nowReadings} 条读数）；签名时 {signed}（{signedReadings} 条读数）',
    arrivalsSummary: '签名后到达 {n} 条读数（{kinds}）',
    rangeSummary: '签名后记录了 {n} 次产品范围变更',
    custodySummary: '签名后记录了 {n} 条交接事件',
    arrivals: '签名后到达的读数',
    rangeChanges: '签名后记录的范围变更',
    custodyChanges: '签名后记录的交接事件',
    sensor: '传感器',
    place: '位置',
    kind: '类型',
    readings: '读数',
    taken: '采集时间（设备时间）',
    arrived: '到达时间',
    recordedAt: '记录时间',
    event: '事件',
    at: '时间',
    late_upload: '补传至已签名时段的读数',
    revision: '与已存读数冲突的修订',
    new_reading: '签名后的新读数',
  },
} as const;

const text = (f: Formatter) => TEXT[f.lang];

const band = (b: { min: number; max: number } | undefined) => (b ? `${b.min} … ${b.max}` : '—');

/** Which range versions a report judged by; nothing for a report without any (older JSON). */
export function rangeVersionsBlocks(versions: readonly RangeVersionUsed[] | undefined, f: Formatter): Block[] {
  if (!versions?.length) return [];
  const t = text(f);
  return [
    {
      kind: 'table',
      heading: t.rangeVersions,
      columns: [t.version, t.inForceFrom, t.until, t.temperatureRange, t.humidityRange],
      rows: versions.map((v) => [
        v.version === null ? t.configured : `${v.profileId} v${v.version}`,
        v.effectiveFrom === null ? t.sinceRecords : f.when(v.effectiveFrom),
        v.until === null ? t.stillInForce : f.when(v.until),
        band(v.temperature),
        band(v.humidity),
      ]),
      empty: '—',
    },
  ];
}

/** The banner of the signed version (?version=signed). */
export function signedVersionBlocks(signed: SignedVersion | undefined, f: Formatter): Block[] {
  if (!signed) return [];
  const t = text(f);
  return [
    {
      kind: 'fields',
      heading: t.signedVersion,
      rows: [
        [t.decision, f.label(signed.decision)],
        [t.signedBy, `${signed.printedName} (${signed.signedBy})`],
        [t.signedAt, f.when(signed.signedAt)],
        [t.asOf, f.when(signed.asOf)],
        [t.signedDigest, signed.signedDigest],
        [t.digestMatches, signed.matches ? t.yes : t.no],
      ],
    },
  ];
}

const arrivalRow = (r: ArrivalRun, f: Formatter) => {
  const t = text(f);
  return [
    r.deviceId,
    r.locationId,
    t[r.kind],
    r.readings,
    r.start === r.end ? f.when(r.start) : `${f.when(r.start)} — ${f.when(r.end)}`,
    r.receivedAt === r.lastReceivedAt ? f.when(r.receivedAt) : `${f.when(r.receivedAt)} — ${f.when(r.lastReceivedAt)}`,
  ];
};

/** Whether, what and when the data changed after the current disposition's signature. */
export function sinceSignatureBlocks(since: SinceSignature | undefined, f: Formatter): Block[] {
  if (!since) return [];
  const t = text(f);
  const reasons: string[] = [
    f.fill(t.digestNow, {
      now: since.digest.now,
      nowReadings: since.digest.nowReadings,
      signed: since.digest.signed,
      signedReadings: since.digest.signedReadings,
    }),
  ];
  const arrived = since.arrivals.reduce((n, r) => n + r.readings, 0);
  if (arrived) {
    const kinds = [...new Set(since.arrivals.map((r) => t[r.kind]))].join('; ');
    reasons.push(f.fill(t.arrivalsSummary, { n: arrived, kinds }));
  }
  if (since.rangeChanges.length) reasons.push(f.fill(t.rangeSummary, { n: since.rangeChanges.length }));
  if (since.custodyChanges.length) reasons.push(f.fill(t.custodySummary, { n: since.custodyChanges.length }));
  const blocks: Block[] = [{ kind: 'verdict', ok: !since.changed, text: `${since.changed ? t.changed : t.unchanged} (${f.when(since.signedAt)})`, reasons }];
  if (since.arrivals.length)
    blocks.push({
      kind: 'table',
      heading: t.arrivals,
      columns: [t.sensor, t.place, t.kind, t.readings, t.taken, t.arrived],
      rows: since.arrivals.map((r) => arrivalRow(r, f)),
      empty: '—',
      widths: [1.1, 1.3, 1.8, 0.6, 2, 2],
    });
  if (since.rangeChanges.length)
    blocks.push({
      kind: 'table',
      heading: t.rangeChanges,
      columns: [t.version, t.inForceFrom, t.recordedAt, t.temperatureRange, t.humidityRange],
      rows: since.rangeChanges.map((v) => [
        `${v.profileId} v${v.version}`,
        v.effectiveFrom === null ? t.sinceRecords : f.when(v.effectiveFrom),
        f.when(v.recordedAt),
        band(v.temperature),
        band(v.humidity),
      ]),
      empty: '—',
    });
  if (since.custodyChanges.length)
    blocks.push({
      kind: 'table',
      heading: t.custodyChanges,
      columns: [t.event, t.place, t.at, t.recordedAt],
      rows: since.custodyChanges.map((c) => [f.label(c.event), c.locationId ?? '—', f.when(c.at), f.when(c.recordedAt)]),
      empty: '—',
    });
  return blocks;
}
