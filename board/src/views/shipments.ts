import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { api, download } from '../api.js';
import { say, when, type Labels, type Lang } from '../i18n.js';
import { namesOf } from '../names.js';
import type { BoardState } from '../store.js';
import type { ShipmentList, ShipmentReport, ShipmentSummary } from '../../../api/shipments.js';

/** Pre-cooling checks and the receiver's decision, one line (the report has the details). */
function TransportLine({ report, t, lang, placeName }: { report: ShipmentReport; t: Labels; lang: Lang; placeName: (id: string) => string }) {
  const steps = report.transport;
  if (!steps) return null;
  const r = steps.receipt;
  const checks = steps.preCooling.length
    ? steps.preCooling.map(
        (c) =>
          html`<span class=${`pill ${c.passed ? 'within_range' : 'excursion'}`}>${placeName(c.locationId)} ${when(c.to)}: ${c.passed ? t.preCoolingPassed : t.preCoolingFailed}</span> `,
      )
    : '—';
  const receipt = r
    ? html`<span class=${`pill ${r.decision === 'accepted' ? 'within_range' : 'excursion'}`} data-receipt=${r.decision}>${say('receipt', r.decision, lang)}</span> ${r.name}, ${t.arrivalTemperature} ${r.arrivalTemperature} °C, ${when(r.at)}`
    : t.notReceived;
  // One line: htm drops whitespace that spans a line break, which would glue the separator on.
  return html`<p class="transport">${t.preCooling}: ${checks} · ${t.receipt}: ${receipt}</p>`;
}

/** What is left of the batch's stability budget, one line (the report has the ledger). */
function StabilityLine({ report, t, lang }: { report: ShipmentReport; t: Labels; lang: Lang }) {
  const s = report.stability;
  if (!s) return null;
  const hours = (ms: number) => `${Math.round(ms / 360_000) / 10} h`;
  const pill = s.state === 'ok' ? 'within_range' : s.state === 'exhausted' ? 'excursion' : 'state-warning';
  const parts = [
    ...s.allowances.map((a) => `${a.name ?? a.id}: ${hours(a.remainingMs)} ${t.stabilityLeft} ${hours(a.allowanceMs)} (${a.remainingPercent} %)`),
    ...(s.total ? [`${t.stabilityTotal}: ${hours(s.total.remainingMs)} ${t.stabilityLeft} ${hours(s.total.allowanceMs)} (${s.total.remainingPercent} %)`] : []),
    ...(s.freeze ? [`${t.stabilityFreeze}: ${s.freeze.remaining} / ${s.freeze.maxEvents}`] : []),
  ];
  return html`<p class="stability" data-stability=${s.state}>${t.stability} ${s.batch}: <span class=${`pill ${pill}`}>${say('stabilityState', s.state, lang)}</span> ${parts.join(' · ')}</p>`;
}

/** The legs of one shipment on one time axis: every sensor's series, the range, the custody changes. */
function Timeline({ report, deviceName, timeLabel }: { report: ShipmentReport; deviceName: (id: string) => string; timeLabel: string }) {
  const element = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!element.current || !report.chart.length) return;
    const times = [...new Set(report.chart.flatMap((s) => s.points.map(([t]) => t)))].sort((a, b) => a - b);
    const index = new Map(times.map((t, i) => [t, i]));
    const columns = report.chart.map((s) => {
      const values: Array<number | null> = new Array(times.length).fill(null);
      for (const [t, v] of s.points) values[index.get(t)!] = v;
      return values;
    });
    const range = report.segments[0]?.place.range;
    const boundaries = report.segments.slice(1).map((s) => s.start / 1000);
    const plot = new uPlot(
      {
        width: element.current.clientWidth || 800,
        height: 260,
        series: [
          { label: timeLabel },
          ...report.chart.map((s, i) => ({
            label: deviceName(s.deviceId),
            stroke: ['#1f77b4', '#ff7f0e', '#2ca02c', '#9467bd', '#8c564b', '#e377c2'][i % 6],
            spanGaps: true,
          })),
        ],
        axes: [{}, { label: '°C' }],
        hooks: {
          draw: [
            (u) => {
              const ctx = u.ctx;
              ctx.save();
              if (range) {
                ctx.strokeStyle = '#d62728';
                for (const limit of [range.min, range.max]) {
                  const y = u.valToPos(limit, 'y', true);
                  ctx.beginPath();
                  ctx.moveTo(u.bbox.left, y);
                  ctx.lineTo(u.bbox.left + u.bbox.width, y);
                  ctx.stroke();
                }
              }
              ctx.setLineDash([5, 4]);
              ctx.strokeStyle = '#555';
              for (const b of boundaries) {
                const x = u.valToPos(b, 'x', true);
                ctx.beginPath();
                ctx.moveTo(x, u.bbox.top);
                ctx.lineTo(x, u.bbox.top + u.bbox.height);
                ctx.stroke();
              }
              ctx.restore();
            },
          ],
        },
      },
      [times.map((t) => t / 1000), ...columns] as uPlot.AlignedData,
      element.current,
    );
    return () => plot.destroy();
  }, [report]);
  return html`<div class="timeline" ref=${element}></div>`;
}

export function ShipmentsView({ board, t, lang }: { board: BoardState; t: Labels; lang: Lang }) {
  const names = namesOf(board.overview);
  const [shipments, setShipments] = useState<ShipmentSummary[]>([]);
  const [selected, setSelected] = useState<string | null>(null);
  const [report, setReport] = useState<ShipmentReport | null>(null);
  useEffect(() => void api<ShipmentList>('/api/v1/shipments').then((r) => setShipments(r.shipments)), []);
  useEffect(() => {
    setReport(null);
    if (selected) void api<ShipmentReport>(`/api/v1/shipments/${encodeURIComponent(selected)}/report?format=json`).then(setReport);
  }, [selected]);
  const placeName = (id: string) => {
    const at = names.locationOf(id);
    return at ? `${at.site.name} · ${at.location.name}` : id;
  };
  const get = (format: string) =>
    download(
      `/api/v1/shipments/${encodeURIComponent(selected!)}/report?format=${format}&lang=${lang}&tz=${encodeURIComponent(Intl.DateTimeFormat().resolvedOptions().timeZone)}`,
      `shipment-${selected}.${format}`,
    );
  return html`<section class="shipments">
    <div class="scroll"><table>
      <thead><tr><th>${t.waybill}</th><th>${t.product}</th><th>${t.batch}</th><th>${t.consignee}</th><th>${t.state}</th><th>${t.place}</th><th>${t.disposition}</th></tr></thead>
      <tbody>${shipments.map((s) => html`<tr key=${s.id} data-shipment=${s.id} class=${selected === s.id ? 'selected' : ''} onClick=${() => setSelected(s.id)}><td>${s.id}</td><td>${s.product}</td><td>${s.batch}</td><td>${s.consignee}</td><td>${say('shipmentState', s.state, lang)}</td><td>${s.location ? placeName(s.location) : '—'}</td><td>${s.disposition ? `${say('decision', s.disposition.decision, lang)} (${s.disposition.printedName})` : t.notReviewed}</td></tr>`)}</tbody>
    </table></div>
    ${
      selected && report
        ? html`<div class="report">
          <h3>${selected}: <span class=${`pill ${report.verdict}`}>${say('verdict', report.verdict, lang)}</span></h3>
          <p>${t.mkt} ${report.overall.mkt ?? '—'} °C · ${t.min} ${report.overall.min?.value ?? '—'} °C · ${t.max} ${report.overall.max?.value ?? '—'} °C · ${t.outOfRange} ${Math.round(report.overall.timeOutOfRangeMs / 60000)} ${t.minShort} · ${t.completeness} ${report.overall.completeness.percent} %</p>
          <h4>${t.timeline}</h4>
          <${Timeline} report=${report} deviceName=${names.device} timeLabel=${t.time} />
          <${TransportLine} report=${report} t=${t} lang=${lang} placeName=${placeName} />
          <${StabilityLine} report=${report} t=${t} lang=${lang} />
          <p>${report.segments.map((s) => html`<span class="leg">${s.place.locationName ?? placeName(s.place.locationId)}: ${when(s.start)} → ${when(s.end)}</span>`)}</p>
          <div class="buttons">${['pdf', 'csv', 'html', 'json'].map((f) => html`<button onClick=${() => void get(f)}>${t.download} ${f.toUpperCase()}</button>`)}</div>
        </div>`
        : null
    }
  </section>`;
}
