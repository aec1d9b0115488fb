/**
 * `partkit bench --svg` for the maintenance section: the stall curve. One line per strategy and
 * method: the longest time a writer's statement took while the default partition was drained
 * (solid) and a reader's (dashed), against the rows that waited in the default; log scale, with the
 * one-second line an application notices.
 */
import type { DrainMethod, DrainRun, DrainStrategy, MaintenanceBenchReport } from './maintenance.js';
import { escapeXml } from './svg.js';

const WIDTH = 900;
const HEIGHT = 520;
const PLOT = { left: 90, right: WIDTH - 260, top: 70, bottom: HEIGHT - 70 } as const;
const COLOURS: Record<string, string> = {
  'plpgsql|partkit maintain': '#228833',
  'partman|partkit maintain': '#4477aa',
  'partman|pg_partman partition_data_proc': '#cc6677',
};
const NAMES: Record<DrainStrategy, string> = { plpgsql: 'fallback', partman: 'pg_partman' };

function label(strategy: DrainStrategy, method: DrainMethod): string {
  return method === 'partkit maintain' ? `partkit maintain (${NAMES[strategy]})` : 'pg_partman partition_data_proc';
}

export function renderMaintenanceSvg(report: MaintenanceBenchReport): string {
  const sizes = [...new Set(report.runs.map((run) => run.rows))].sort((a, b) => a - b);
  const waits = report.runs.flatMap((run) => [run.writer.longestMs, run.reader.longestMs]).filter((ms) => ms > 0);
  const low = Math.floor(Math.log10(Math.min(10, ...waits)));
  const high = Math.max(4, Math.ceil(Math.log10(Math.max(1000, ...waits))));
  const x = (rows: number) => (sizes.length === 1 ? (PLOT.left + PLOT.right) / 2 : PLOT.left + 30 + ((PLOT.right - PLOT.left - 60) * sizes.indexOf(rows)) / (sizes.length - 1));
  const y = (ms: number) => PLOT.bottom - ((Math.log10(Math.max(ms, 10 ** low)) - low) / (high - low)) * (PLOT.bottom - PLOT.top);
  const svg: string[] = [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="DejaVu Sans, Arial, sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="20" y="26" font-size="17" font-weight="bold">${escapeXml(`partkit bench: the longest stall while the default partition is drained (${report.server})`)}</text>`,
    `<text x="20" y="46" font-size="12" fill="#333">${escapeXml(`Writer of current rows ${report.writerOpsPerS}/s (solid), reader of recent rows ${report.readerOpsPerS}/s (dashed); longest statement during the drain, log scale.`)}</text>`,
  ];
  for (let decade = low; decade <= high; decade += 1) {
    const ms = 10 ** decade;
    const yPos = y(ms).toFixed(1);
    const text = ms >= 1000 ? `${ms / 1000} s` : `${ms} ms`;
    svg.push(
      `<line x1="${PLOT.left}" y1="${yPos}" x2="${PLOT.right}" y2="${yPos}" stroke="${ms === 1000 ? '#222' : '#ddd'}" stroke-width="${ms === 1000 ? 1.5 : 1}"${ms === 1000 ? ' stroke-dasharray="6 3"' : ''}/>`,
      `<text x="${PLOT.left - 8}" y="${(Number(yPos) + 4).toFixed(1)}" font-size="11" text-anchor="end" fill="#444">${escapeXml(text)}</text>`,
    );
  }
  svg.push(`<text x="${PLOT.right - 4}" y="${(y(1000) - 5).toFixed(1)}" font-size="11" text-anchor="end">one second</text>`);
  for (const rows of sizes) {
    svg.push(`<text x="${x(rows).toFixed(1)}" y="${PLOT.bottom + 20}" font-size="12" text-anchor="middle">${escapeXml(`${rows.toLocaleString('en-US')} rows`)}</text>`);
  }
  svg.push(`<text x="${((PLOT.left + PLOT.right) / 2).toFixed(1)}" y="${PLOT.bottom + 44}" font-size="12" text-anchor="middle" fill="#333">rows waiting in the default partition</text>`);

  const series = new Map<string, DrainRun[]>();
  for (const run of report.runs) series.set(`${run.strategy}|${run.method}`, [...(series.get(`${run.strategy}|${run.method}`) ?? []), run]);
  let legend = PLOT.top;
  for (const [key, runs] of series) {
    const colour = COLOURS[key] ?? '#777';
    const sorted = [...runs].sort((a, b) => a.rows - b.rows);
    for (const [who, dash] of [['writer', ''], ['reader', ' stroke-dasharray="5 4"']] as const) {
      const points = sorted.map((run) => `${x(run.rows).toFixed(1)},${y(run[who].longestMs).toFixed(1)}`).join(' ');
      svg.push(`<polyline points="${points}" fill="none" stroke="${colour}" stroke-width="2"${dash}/>`);
      for (const run of sorted) {
        const title = `${label(run.strategy, run.method)}, ${run.rows.toLocaleString('en-US')} rows: ${who} longest ${Math.round(run[who].longestMs)} ms, p99 ${Math.round(run[who].p99Ms)} ms; drain ${run.drainSeconds} s`;
        svg.push(`<circle cx="${x(run.rows).toFixed(1)}" cy="${y(run[who].longestMs).toFixed(1)}" r="3.5" fill="${colour}"><title>${escapeXml(title)}</title></circle>`);
      }
    }
    const [strategy, method] = key.split('|') as [DrainStrategy, DrainMethod];
    svg.push(
      `<line x1="${PLOT.right + 20}" y1="${legend}" x2="${PLOT.right + 44}" y2="${legend}" stroke="${colour}" stroke-width="2"/>`,
      `<text x="${PLOT.right + 50}" y="${legend + 4}" font-size="12">${escapeXml(label(strategy, method))}</text>`,
    );
    legend += 22;
  }
  svg.push(`</svg>`, '');
  return svg.join('\n');
}
