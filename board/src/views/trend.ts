import { html } from 'htm/preact';
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

const hhmm = (seconds: number) => new Date(seconds * 1000).toTimeString().slice(0, 5);
const hhmmss = (seconds: number) => new Date(seconds * 1000).toTimeString().slice(0, 8);
const COLOURS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#9467bd', '#8c564b', '#e377c2'];

/** An incident's last hour: each sensor's temperature, with the place's limits drawn in red. */
export function TrendChart({
  trend,
  deviceName,
  range,
  timeLabel,
}: {
  trend: Array<{ deviceId: string; points: Array<[number, number]> }>;
  deviceName: (id: string) => string;
  range: { min: number; max: number } | null;
  timeLabel: string;
}) {
  const element = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!element.current || !trend.some((s) => s.points.length)) return;
    const times = [...new Set(trend.flatMap((s) => s.points.map(([t]) => t)))].sort((a, b) => a - b);
    const index = new Map(times.map((t, i) => [t, i]));
    const columns = trend.map((s) => {
      const values: Array<number | null> = new Array(times.length).fill(null);
      for (const [t, v] of s.points) values[index.get(t)!] = v;
      return values;
    });
    const plot = new uPlot(
      {
        width: Math.min(element.current.clientWidth || 640, 900),
        height: 200,
        series: [
          { label: timeLabel, value: (_u: uPlot, v: number | null) => (v == null ? '—' : hhmmss(v)) },
          ...trend.map((s, i) => ({ label: deviceName(s.deviceId), stroke: COLOURS[i % COLOURS.length], spanGaps: true })),
        ],
        // 24-hour times; seconds too when the span is short (a fresh alarm).
        axes: [{ values: (_u: uPlot, splits: number[]) => splits.map(times.at(-1)! - times[0]! < 600_000 ? hhmmss : hhmm) }, { label: '°C' }],
        hooks: {
          draw: [
            (u) => {
              if (!range) return;
              const ctx = u.ctx;
              ctx.save();
              ctx.strokeStyle = '#d62728';
              ctx.setLineDash([6, 4]);
              for (const limit of [range.min, range.max]) {
                const y = u.valToPos(limit, 'y', true);
                if (y < u.bbox.top || y > u.bbox.top + u.bbox.height) continue;
                ctx.beginPath();
                ctx.moveTo(u.bbox.left, y);
                ctx.lineTo(u.bbox.left + u.bbox.width, y);
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
  }, [trend, timeLabel]);
  return html`<div class="trend" ref=${element}></div>`;
}
