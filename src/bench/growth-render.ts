/**
 * `partkit bench --growth` as text and as an SVG line chart: rows on x, time on y (both log
 * scales), one line per layout, one panel per query, then inserts per second and index sizes
 * against shared_buffers. Every sentence about speed is computed from the run.
 */
import type { GrowthLayout, GrowthReport, GrowthStep } from './growth.js';

const MB = 1024 * 1024;
const LAYOUT_NAMES: Record<GrowthLayout, string> = { plainIndexed: 'plain + index', partitioned: 'partitioned' };
const COLOURS: Record<GrowthLayout, string> = { plainIndexed: '#4477aa', partitioned: '#cc6677' };

function ms(value: number): string {
  return value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2);
}

function rowsLabel(rows: number): string {
  return rows >= 1_000_000 ? `${(rows / 1_000_000).toFixed(rows % 1_000_000 === 0 ? 0 : 1)} M` : `${Math.round(rows / 1000)} k`;
}

function escapeXml(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;').replaceAll("'", '&apos;');
}

/** The first step from which the partitioned table stays at least as fast (median), or null. */
function pullsAhead(steps: readonly GrowthStep[], faster: (step: GrowthStep) => boolean): GrowthStep | null {
  for (let i = 0; i < steps.length; i += 1) if (steps.slice(i).every(faster)) return steps[i]!;
  return null;
}

export function renderGrowth(report: GrowthReport): string {
  const out = [
    `partkit bench --growth, ${report.date}`,
    `server: ${report.server}; ${Object.entries(report.settings).map(([k, v]) => `${k}=${v}`).join(', ')}`,
    `data:   messages at ${report.monthRows.toLocaleString('en-US')} rows a month (a bigger table holds more months); execution_logs, api_key_logs and usage_records at ${Object.entries(report.shares).filter(([k]) => k !== 'messages').map(([k, v]) => `${v}x (${k})`).join(', ')} of it; partitioned by partkit (strategy ${report.strategy}), plain + index with the same indexes`,
    `timing: client wall clock per statement, values as bound parameters of an unnamed statement (node-postgres's client.query(text, values)); median and p95 of ${report.reps} runs per layout, another key each run`,
    '',
  ];
  for (const step of report.steps) {
    out.push(
      `${rowsLabel(step.rows)} messages (${step.totalRows.toLocaleString('en-US')} rows in the four tables), ${step.months} months, ${step.partitions} partitions of messages; loaded in ${step.loadSeconds}s`,
      `  inserts into the current month: plain + index ${step.inserts.plainIndexed.toLocaleString('en-US')} rows/s, partitioned ${step.inserts.partitioned.toLocaleString('en-US')} rows/s (${(step.inserts.partitioned / step.inserts.plainIndexed).toFixed(2)}x)`,
      `  indexes: plain + index ${(step.indexBytes.plainIndexed / MB).toFixed(0)} MiB, partitioned ${(step.indexBytes.partitioned / MB).toFixed(0)} MiB of which the current month ${(step.indexBytes.partitionedCurrentMonth / MB).toFixed(1)} MiB; shared_buffers ${(report.sharedBuffersBytes / MB).toFixed(0)} MiB`,
    );
    for (const q of step.queries) {
      out.push(
        `  ${q.name.padEnd(38)} plain + index ${ms(q.plainIndexed.medianMs).padStart(6)} ms (p95 ${ms(q.plainIndexed.p95Ms).padStart(6)}), partitioned ${ms(q.partitioned.medianMs).padStart(6)} ms (p95 ${ms(q.partitioned.p95Ms).padStart(6)}), ${(q.plainIndexed.medianMs / q.partitioned.medianMs).toFixed(2)}x, ${q.partitionsScanned}/${step.partitions} partitions`,
      );
    }
    out.push('');
  }
  out.push('Where partitioning pulls ahead (from this step on, at every later step, by the median)');
  const names = report.steps[0]?.queries.map((q) => q.name) ?? [];
  for (const name of names) {
    const step = pullsAhead(report.steps, (s) => {
      const q = s.queries.find((query) => query.name === name)!;
      return q.partitioned.medianMs <= q.plainIndexed.medianMs;
    });
    out.push(`  ${name.padEnd(38)} ${step ? `from ${rowsLabel(step.rows)} messages` : 'not within these steps'}`);
  }
  const inserts = pullsAhead(report.steps, (s) => s.inserts.partitioned >= s.inserts.plainIndexed);
  out.push(`  ${'inserts into the current month'.padEnd(38)} ${inserts ? `from ${rowsLabel(inserts.rows)} messages` : 'not within these steps'}`, '', `Done in ${report.totalSeconds}s.`);
  return out.join('\n');
}

interface Series {
  readonly layout: GrowthLayout;
  readonly points: readonly { readonly x: number; readonly y: number }[];
  readonly dashed?: boolean;
}

const PANEL_W = 460;
const PANEL_H = 250;
const MARGIN = { left: 64, right: 16, top: 34, bottom: 40 };

function logTicks(low: number, high: number): number[] {
  const ticks: number[] = [];
  for (let decade = Math.floor(Math.log10(low)); decade <= Math.ceil(Math.log10(high)); decade += 1) {
    for (const m of [1, 2, 5]) {
      const value = m * 10 ** decade;
      if (value >= low && value <= high) ticks.push(value);
    }
  }
  return ticks;
}

function tickLabel(value: number, unit: string): string {
  if (unit === 'rows') return rowsLabel(value);
  if (unit === 'MiB') return `${value >= 1 ? value.toFixed(0) : value.toFixed(1)}`;
  return value >= 1000 ? `${value / 1000}k` : value >= 1 ? `${value}` : `${value}`;
}

/** One panel: log x (rows of messages), log y, a line per series, and a horizontal reference line if given. */
function panel(x0: number, y0: number, title: string, unit: string, series: readonly Series[], reference?: { value: number; label: string }): string[] {
  const xs = series.flatMap((s) => s.points.map((p) => p.x));
  const ys = [...series.flatMap((s) => s.points.map((p) => p.y)), ...(reference ? [reference.value] : [])].filter((v) => v > 0);
  const xLow = Math.min(...xs) / 1.3;
  const xHigh = Math.max(...xs) * 1.3;
  const yLow = 10 ** Math.floor(Math.log10(Math.min(...ys)));
  const yHigh = 10 ** Math.ceil(Math.log10(Math.max(...ys) * 1.01));
  const w = PANEL_W - MARGIN.left - MARGIN.right;
  const h = PANEL_H - MARGIN.top - MARGIN.bottom;
  const sx = (v: number) => x0 + MARGIN.left + ((Math.log10(v) - Math.log10(xLow)) / (Math.log10(xHigh) - Math.log10(xLow))) * w;
  const sy = (v: number) => y0 + MARGIN.top + h - ((Math.log10(v) - Math.log10(yLow)) / (Math.log10(yHigh) - Math.log10(yLow))) * h;
  const svg = [
    `<text x="${x0 + 8}" y="${y0 + 20}" font-size="13" font-weight="bold">${escapeXml(title)}</text>`,
    `<rect x="${x0 + MARGIN.left}" y="${y0 + MARGIN.top}" width="${w}" height="${h}" fill="none" stroke="#999"/>`,
  ];
  for (const tick of logTicks(yLow, yHigh)) {
    svg.push(
      `<line x1="${x0 + MARGIN.left}" y1="${sy(tick).toFixed(1)}" x2="${x0 + MARGIN.left + w}" y2="${sy(tick).toFixed(1)}" stroke="#eee"/>`,
      `<text x="${x0 + MARGIN.left - 4}" y="${(sy(tick) + 4).toFixed(1)}" font-size="10" text-anchor="end" fill="#444">${escapeXml(tickLabel(tick, unit))}</text>`,
    );
  }
  for (const tick of [...new Set(xs)]) {
    svg.push(`<text x="${sx(tick).toFixed(1)}" y="${y0 + MARGIN.top + h + 14}" font-size="10" text-anchor="middle" fill="#444">${escapeXml(rowsLabel(tick))}</text>`);
  }
  svg.push(
    `<text x="${x0 + MARGIN.left + w / 2}" y="${y0 + PANEL_H - 8}" font-size="10" text-anchor="middle" fill="#444">rows of messages (log)</text>`,
    `<text x="${x0 + 14}" y="${y0 + MARGIN.top + h / 2}" font-size="10" text-anchor="middle" fill="#444" transform="rotate(-90 ${x0 + 14} ${y0 + MARGIN.top + h / 2})">${escapeXml(`${unit} (log)`)}</text>`,
  );
  if (reference && reference.value > 0) {
    svg.push(
      `<line x1="${x0 + MARGIN.left}" y1="${sy(reference.value).toFixed(1)}" x2="${x0 + MARGIN.left + w}" y2="${sy(reference.value).toFixed(1)}" stroke="#222" stroke-dasharray="2 3"/>`,
      `<text x="${x0 + MARGIN.left + 4}" y="${(sy(reference.value) - 4).toFixed(1)}" font-size="10" fill="#222">${escapeXml(reference.label)}</text>`,
    );
  }
  for (const s of series) {
    const points = s.points.map((p) => `${sx(p.x).toFixed(1)},${sy(Math.max(p.y, yLow)).toFixed(1)}`).join(' ');
    svg.push(`<polyline points="${points}" fill="none" stroke="${COLOURS[s.layout]}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5 4"' : ''}><title>${escapeXml(`${title}: ${LAYOUT_NAMES[s.layout]}${s.dashed ? ' (p95)' : ''}`)}</title></polyline>`);
    for (const p of s.points) svg.push(`<circle cx="${sx(p.x).toFixed(1)}" cy="${sy(Math.max(p.y, yLow)).toFixed(1)}" r="${s.dashed ? 2 : 3}" fill="${COLOURS[s.layout]}"/>`);
  }
  return svg;
}

export function renderGrowthSvg(report: GrowthReport): string {
  const layouts: GrowthLayout[] = ['plainIndexed', 'partitioned'];
  const names = report.steps[0]?.queries.map((q) => q.name) ?? [];
  const panels: { title: string; unit: string; series: Series[]; reference?: { value: number; label: string } }[] = names.map((name) => ({
    title: name,
    unit: 'ms',
    series: layouts.flatMap((layout) => [
      { layout, points: report.steps.map((s) => ({ x: s.rows, y: s.queries.find((q) => q.name === name)![layout].medianMs })) },
      { layout, dashed: true, points: report.steps.map((s) => ({ x: s.rows, y: s.queries.find((q) => q.name === name)![layout].p95Ms })) },
    ]),
  }));
  panels.push(
    { title: 'inserts into the current month', unit: 'rows/s', series: layouts.map((layout) => ({ layout, points: report.steps.map((s) => ({ x: s.rows, y: s.inserts[layout] })) })) },
    {
      title: 'index size (four tables); partitioned dashed: the current month',
      unit: 'MiB',
      series: [
        ...layouts.map((layout) => ({ layout, points: report.steps.map((s) => ({ x: s.rows, y: s.indexBytes[layout] / MB })) })),
        { layout: 'partitioned' as const, dashed: true, points: report.steps.map((s) => ({ x: s.rows, y: Math.max(s.indexBytes.partitionedCurrentMonth / MB, 0.01) })) },
      ],
      reference: { value: report.sharedBuffersBytes / MB, label: 'shared_buffers' },
    },
  );
  const columns = 2;
  const width = columns * PANEL_W + 20;
  const top = 70;
  const height = top + Math.ceil(panels.length / columns) * PANEL_H + 40;
  const body = panels.flatMap((p, i) => panel(10 + (i % columns) * PANEL_W, top + Math.floor(i / columns) * PANEL_H, p.title, p.unit, p.series, p.reference));
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, Arial, sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="20" y="24" font-size="17" font-weight="bold">${escapeXml(`partkit bench --growth: ${report.server}`)}</text>`,
    `<text x="20" y="44" font-size="12" fill="#333">${escapeXml(`Median (solid) and p95 (dashed) per query, values as bound parameters; messages at ${report.monthRows.toLocaleString('en-US')} rows a month, the other three tables in proportion.`)}</text>`,
    `<rect x="20" y="${height - 24}" width="12" height="10" fill="${COLOURS.plainIndexed}"/><text x="36" y="${height - 15}" font-size="12">plain + index (the same indexes)</text>`,
    `<rect x="260" y="${height - 24}" width="12" height="10" fill="${COLOURS.partitioned}"/><text x="276" y="${height - 15}" font-size="12">partitioned by partkit</text>`,
    ...body,
    `</svg>`,
    '',
  ].join('\n');
}
