import { el, svg } from './dom.js';

export interface Point {
  at: number;
  commands: number;
  p99Ms: number;
}

const W = 1100;
const H = 180;
const PAD = { l: 44, r: 44, t: 10, b: 18 };

function scaleMax(v: number): number {
  if (v <= 0) return 1;
  const mag = 10 ** Math.floor(Math.log10(v));
  return Math.ceil(v / mag) * mag;
}

/**
 * Throughput (left axis) and p99 (right axis) over the last minute, as an inline SVG. The
 * second in progress is left out: its partial count would always show as a drop.
 */
export function chart(series: Point[]): Node {
  const points = series.slice(0, -1);
  const maxT = scaleMax(Math.max(...points.map((p) => p.commands), 0));
  const maxL = scaleMax(Math.max(...points.map((p) => p.p99Ms), 0));
  const iw = W - PAD.l - PAD.r;
  const ih = H - PAD.t - PAD.b;
  const x = (i: number) => PAD.l + (points.length <= 1 ? 0 : (i / (points.length - 1)) * iw);
  const y = (v: number, max: number) => PAD.t + ih - (v / max) * ih;
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'throughput and p99 latency' });
  for (const f of [0, 0.5, 1]) {
    const gy = PAD.t + ih - f * ih;
    root.append(svg('line', { class: 'grid', x1: PAD.l, x2: W - PAD.r, y1: gy, y2: gy }));
    root.append(svg('text', { x: PAD.l - 6, y: gy + 4, 'text-anchor': 'end' }, String(Math.round(maxT * f))));
    root.append(svg('text', { x: W - PAD.r + 6, y: gy + 4 }, `${+(maxL * f).toFixed(1)} ms`));
  }
  root.append(svg('text', { x: PAD.l, y: H - 4 }, '-60 s'));
  root.append(svg('text', { x: W - PAD.r, y: H - 4, 'text-anchor': 'end' }, 'now'));
  const line = (cls: string, pick: (p: Point) => number, max: number) =>
    svg('polyline', { class: cls, points: points.map((p, i) => `${x(i).toFixed(1)},${y(pick(p), max).toFixed(1)}`).join(' ') });
  root.append(line('tput', (p) => p.commands, maxT), line('p99', (p) => p.p99Ms, maxL));
  const last = points[points.length - 1];
  const legend = el(
    'div',
    { class: 'legend' },
    el('span', { class: 'tput' }, `commands/s${last ? `: ${last.commands}` : ''}`),
    el('span', { class: 'p99' }, `p99${last ? `: ${last.p99Ms} ms` : ''}`),
  );
  const box = document.createDocumentFragment();
  box.append(root, legend);
  return box;
}
