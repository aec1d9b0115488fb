/**
 * `partkit bench --svg`: the speed of each layout relative to the plain table, one bar per query
 * per layout on a log scale, each query in its three forms (literal, now(), param). The plain table is
 * the vertical line (1x); a bar to the right is that many times faster, to the left slower. Warm,
 * cold when measured, and the production shape.
 */
import type { BenchReport, QueryFigures } from './run.js';

const WIDTH = 980;
const LABEL_W = 300;
const PLOT_W = WIDTH - LABEL_W - 75;
const BAR_H = 9;
const ROW_H = 2 * BAR_H + 10;
const COLOURS = { plainIndexed: '#4477aa', partitioned: '#cc6677' } as const;

export function escapeXml(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;').replaceAll("'", '&apos;');
}

function fmt(value: number): string {
  return value >= 10 ? `${value.toFixed(0)}x` : value >= 1 ? `${value.toFixed(1)}x` : `1/${(1 / value).toFixed(value > 0.1 ? 1 : 0)}x`;
}

function panel(title: string, queries: readonly QueryFigures[], top: number, low: number, high: number): { svg: string[]; height: number } {
  const scale = (ratio: number) => LABEL_W + ((Math.log10(Math.min(Math.max(ratio, 10 ** low), 10 ** high)) - low) / (high - low)) * PLOT_W;
  const one = scale(1);
  const height = 40 + queries.length * ROW_H + 30;
  const svg: string[] = [`<text x="20" y="${top + 20}" font-size="15" font-weight="bold">${escapeXml(title)}</text>`];
  const plotTop = top + 32;
  const plotBottom = plotTop + queries.length * ROW_H;
  for (let decade = low; decade <= high; decade += 1) {
    const xPos = scale(10 ** decade).toFixed(1);
    const label = decade === 0 ? 'as fast as plain' : decade > 0 ? `${10 ** decade}x faster` : `${10 ** -decade}x slower`;
    svg.push(
      `<line x1="${xPos}" y1="${plotTop}" x2="${xPos}" y2="${plotBottom}" stroke="${decade === 0 ? '#222' : '#ccc'}" stroke-width="${decade === 0 ? 1.5 : 1}"/>`,
      `<text x="${xPos}" y="${plotBottom + 16}" font-size="11" text-anchor="middle" fill="#444">${label}</text>`,
    );
  }
  queries.forEach((q, index) => {
    const y = plotTop + index * ROW_H + 4;
    if (index % 2 === 0) svg.push(`<rect x="10" y="${y - 4}" width="${WIDTH - 20}" height="${ROW_H}" fill="#f4f4f4"/>`);
    svg.push(`<text x="${LABEL_W - 8}" y="${y + BAR_H + 3}" font-size="12" text-anchor="end">${escapeXml(`${q.name} (${q.bounds === 'now' ? 'now()' : q.bounds})`)}</text>`);
    (['plainIndexed', 'partitioned'] as const).forEach((layout, k) => {
      const figure = layout === 'plainIndexed' ? q.plainIndexedMs : q.partitionedMs;
      const ratio = figure > 0 ? q.plainMs / figure : 1;
      const end = scale(ratio);
      const x0 = Math.min(one, end);
      const w = Math.max(Math.abs(end - one), 1.5);
      const by = y + k * BAR_H;
      svg.push(
        `<rect x="${x0.toFixed(1)}" y="${by}" width="${w.toFixed(1)}" height="${BAR_H - 1}" fill="${COLOURS[layout]}"><title>${escapeXml(`${q.name}, ${q.bounds} bounds, ${layout}: ${fmt(ratio)} vs plain`)}</title></rect>`,
        `<text x="${(ratio >= 1 ? end + 4 : end - 4).toFixed(1)}" y="${by + BAR_H - 1}" font-size="9" fill="#555" text-anchor="${ratio >= 1 ? 'start' : 'end'}">${fmt(ratio)}</text>`,
      );
    });
  });
  return { svg, height };
}

export function renderSvg(report: BenchReport): string {
  const all = [...report.queries, ...(report.coldQueries ?? []), ...report.production.queries].flatMap((q) => [q.plainMs / q.plainIndexedMs, q.plainMs / q.partitionedMs]).filter((v) => Number.isFinite(v) && v > 0);
  // A quarter decade of room beyond the extreme bars, for their labels.
  const low = Math.min(-1, Math.floor(Math.log10(Math.min(...all)) - 0.25));
  const high = Math.max(1, Math.ceil(Math.log10(Math.max(...all)) + 0.25));
  const parts: string[] = [];
  let top = 60;
  for (const [title, queries] of [
    ['Warm (data in cache)', report.queries],
    ...(report.coldQueries ? [['Cold (server restarted, OS page cache dropped)', report.coldQueries] as const] : []),
    [`Production shape, warm (partitioned: ${report.production.hotMonths} hot months attached, ${report.production.partitions} partitions; plain: the whole history)`, report.production.queries],
  ] as const) {
    const drawn = panel(title, queries, top, low, high);
    parts.push(...drawn.svg);
    top += drawn.height;
  }
  const height = top + 20;
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="DejaVu Sans, Arial, sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="20" y="24" font-size="17" font-weight="bold">${escapeXml(`partkit bench: ${report.rows.toLocaleString('en-US')} rows, ${report.months} months, ${report.server}`)}</text>`,
    `<text x="20" y="44" font-size="12" fill="#333">Speed relative to the plain table without a time index (the black line), log scale. Bars to the right are faster.</text>`,
    `<rect x="${LABEL_W}" y="${height - 18}" width="12" height="10" fill="${COLOURS.plainIndexed}"/><text x="${LABEL_W + 16}" y="${height - 9}" font-size="12">plain + time index</text>`,
    `<rect x="${LABEL_W + 160}" y="${height - 18}" width="12" height="10" fill="${COLOURS.partitioned}"/><text x="${LABEL_W + 176}" y="${height - 9}" font-size="12">partitioned by partkit</text>`,
    ...parts,
    `</svg>`,
    '',
  ].join('\n');
}
