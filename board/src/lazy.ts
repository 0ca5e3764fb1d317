import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';

/** The map (Leaflet) and charts (uPlot) load when their view is first opened: the live view paints sooner. */
export function Lazy({ load, props }: { load: () => Promise<(props: never) => unknown>; props: Record<string, unknown> }) {
  const [view, setView] = useState<{ component: (props: never) => unknown } | null>(null);
  useEffect(() => void load().then((component) => setView({ component })), [load]);
  return view ? html`<${view.component} ...${props} />` : html`<p class="hint">…</p>`;
}
