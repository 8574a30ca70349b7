/**
 * What ota-sim prints, as pure functions of a summary: the live one-line status, the final table,
 * and the JSON object for machines.
 */
import { FAULT_FLAGS, FAULT_NAMES } from './faults';
import { SimState, SimSummary } from './states';

export interface RunInfo {
  productKey: string;
  seed: number;
  elapsedMs: number;
}

/** The states the live line lists after upgraded and failed, in the order of an upgrade. */
const LINE_STATES: SimState[] = [
  'notified',
  'downloading',
  'verifying',
  'burning',
  'rebooting',
  'booting',
  'offline',
  'idle',
];

/** `[██████░░░░░░░░░░░░░░] 52/100 upgraded · 3 failed · 10 downloading 45% · 35 idle · 12.3 s` */
export function formatLine(s: SimSummary, elapsedMs: number, barWidth = 20): string {
  const parts = [
    `${progressBar(s.total === 0 ? 0 : s.upgraded / s.total, barWidth)} ${s.upgraded}/${s.total} upgraded`,
    `${s.failed} failed`,
  ];
  for (const state of LINE_STATES) {
    const n = s.states[state];
    if (n === 0) continue;
    parts.push(state === 'downloading' ? `${n} downloading ${s.downloadProgress}%` : `${n} ${state}`);
  }
  parts.push(formatElapsed(elapsedMs));
  return parts.join(' · ');
}

export function progressBar(fraction: number, width = 20): string {
  const filled = Math.max(0, Math.min(width, Math.floor(fraction * width)));
  return `[${'█'.repeat(filled)}${'░'.repeat(width - filled)}]`;
}

/** `850 ms`, `12.3 s`, `2 min 05 s`. */
export function formatElapsed(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const seconds = Math.floor(ms / 1000);
  return `${Math.floor(seconds / 60)} min ${String(seconds % 60).padStart(2, '0')} s`;
}

/** The final table: devices by state (failures by cause), by version, and by fault given. */
export function formatTable(s: SimSummary, run: RunInfo): string {
  const sections: Section[] = [];
  const states: Row[] = [];
  for (const state of ['upgraded', 'failed', ...LINE_STATES] as SimState[]) {
    if (s.states[state] === 0 && state !== 'upgraded' && state !== 'failed') continue;
    states.push([state, s.states[state]]);
    if (state === 'failed') for (const [cause, n] of sortedEntries(s.failuresByCause)) states.push([`  ${cause}`, n]);
  }
  sections.push(['state', states]);
  const modules = Object.keys(s.byModule);
  if (modules.length <= 1) sections.push(['version', sortedEntries(s.byVersion)]);
  else for (const module of modules) sections.push([`module ${module}`, sortedEntries(s.byModule[module])]);
  const faults = FAULT_NAMES.filter((f) => s.faults[f] > 0).map((f): Row => [FAULT_FLAGS[f], s.faults[f]]);
  if (faults.length > 0) sections.push(['fault', faults]);

  const rows = sections.flatMap(([, r]) => r);
  const width = Math.max(...sections.map(([title]) => title.length), ...rows.map(([name]) => name.length + 2));
  const digits = Math.max('devices'.length, ...rows.map(([, n]) => String(n).length));
  const lines = [
    `ota-sim · product ${run.productKey} · ${s.total} device${s.total === 1 ? '' : 's'} · ${formatElapsed(run.elapsedMs)} · seed ${run.seed}`,
  ];
  for (const [title, section] of sections) {
    lines.push('', `${title.padEnd(width)}  ${'devices'.padStart(digits)}`);
    for (const [name, n] of section) lines.push(`${`  ${name}`.padEnd(width)}  ${String(n).padStart(digits)}`);
  }
  return lines.join('\n');
}

type Row = [name: string, devices: number];
type Section = [title: string, rows: Row[]];

/** The whole summary for machines, with what identifies the run. */
export function jsonReport(s: SimSummary, run: RunInfo): Record<string, unknown> {
  return { productKey: run.productKey, seed: run.seed, elapsedMs: Math.round(run.elapsedMs), ...s };
}

/** Largest count first, then by name, so the table reads the same on every run. */
function sortedEntries(counts: Record<string, number>): Row[] {
  return Object.entries(counts).sort(([a, x], [b, y]) => y - x || a.localeCompare(b));
}
