/**
 * `ota-sim`: parse the command line, run the simulation with a live status line, and on Ctrl-C
 * (or --duration, or --exit-when-idle) stop cleanly and print the final table or JSON.
 * Exit codes: 0 after a run, 1 when the broker cannot be reached, 2 for bad arguments.
 */
import { HELP, parseArgs } from './args';
import { OptionError, SimOptions } from './options';
import { formatLine, formatTable, jsonReport } from './report';
import { Simulation } from './simulation';
import { BUSY_STATES, DeviceSnapshot, SimState } from './states';

export interface CliOutput {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface CliIo {
  stdout: CliOutput;
  /** The live line and warnings; redrawn in place when it is a terminal. */
  stderr: CliOutput;
  /** Calls `handler` on SIGINT or SIGTERM; returns what removes it. */
  onStopSignal(handler: () => void): () => void;
}

/** Warnings of one kind printed before the rest are only counted. */
const MAX_WARNINGS = 10;
const TTY_REDRAW_MS = 250;
const LOG_LINE_MS = 5000;

export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  let options: SimOptions;
  try {
    const parsed = parseArgs(argv);
    if (parsed.help) {
      io.stdout.write(`${HELP}\n`);
      return 0;
    }
    options = parsed.options;
  } catch (err) {
    if (!(err instanceof OptionError)) throw err;
    io.stderr.write(`ota-sim: ${err.message}\nRun ota-sim --help for the options.\n`);
    return 2;
  }

  const sim = new Simulation(options);
  // A narrow terminal gets a shorter bar, so the counts still fit.
  const live = new LiveLine(io.stderr, () =>
    formatLine(sim.summary(), sim.elapsedMs, (io.stderr.columns || 120) < 100 ? 10 : 20),
  );
  watchWarnings(sim, live);

  let requestStop!: () => void;
  const stopRequested = new Promise<void>((resolve) => (requestStop = resolve));
  const removeSignal = io.onStopSignal(() => requestStop());
  const timers: NodeJS.Timeout[] = [];
  if (options.durationLimit !== undefined) timers.push(setTimeout(() => requestStop(), options.durationLimit));
  if (options.exitWhenIdle !== undefined) {
    const quietMs = options.exitWhenIdle;
    const onState = (_device: DeviceSnapshot, _from: SimState, to: SimState) => {
      if (!BUSY_STATES.has(to)) return;
      sim.off('state', onState);
      void sim.idle(quietMs).then(() => requestStop());
    };
    sim.on('state', onState);
  }

  let code = 0;
  try {
    live.start();
    const started = sim.start();
    started.catch(() => undefined);
    await Promise.race([started, stopRequested]);
    await stopRequested;
  } catch (err) {
    live.clear();
    io.stderr.write(`${(err as Error).message}\n`);
    code = 1;
  } finally {
    for (const timer of timers) clearTimeout(timer);
    removeSignal();
    await sim.stop();
    live.stop(code === 0);
  }
  if (code !== 0) return code;
  const run = { productKey: options.productKey, seed: options.seed, elapsedMs: sim.elapsedMs };
  const summary = sim.summary();
  io.stdout.write(
    options.json ? `${JSON.stringify(jsonReport(summary, run), null, 2)}\n` : `${formatTable(summary, run)}\n`,
  );
  return code;
}

/** The entry point of bin/ota-sim.js. A second Ctrl-C exits at once. */
export function main(argv: readonly string[]): void {
  let signals = 0;
  const io: CliIo = {
    stdout: process.stdout,
    stderr: process.stderr,
    onStopSignal(handler) {
      const onSignal = () => {
        if (++signals > 1) process.exit(130);
        handler();
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      return () => {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      };
    },
  };
  run(argv, io).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`ota-sim: ${(err as Error).stack ?? String(err)}\n`);
      process.exitCode = 1;
    },
  );
}

/** The status line: redrawn in place on a terminal, else printed every few seconds. */
class LiveLine {
  private timer?: NodeJS.Timeout;
  private drawn = false;

  constructor(
    private readonly out: CliOutput,
    private readonly line: () => string,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.draw(), this.out.isTTY ? TTY_REDRAW_MS : LOG_LINE_MS);
  }

  draw(): void {
    const text = this.line();
    if (this.out.isTTY) {
      // A line longer than the terminal would wrap, and \r would then redraw only its last part.
      const width = this.out.columns ? this.out.columns - 1 : Infinity;
      this.out.write(`\r${text.length > width ? text.slice(0, width) : text}\x1b[K`);
      this.drawn = true;
    } else {
      this.out.write(`${text}\n`);
    }
  }

  /** Clears the line so a message can be printed, then the next redraw puts it back. */
  clear(): void {
    if (this.drawn) this.out.write('\r\x1b[K');
    this.drawn = false;
  }

  print(message: string): void {
    this.clear();
    this.out.write(`${message}\n`);
  }

  /** Stops redrawing, leaving the last state of the fleet on screen when `final`. */
  stop(final: boolean): void {
    clearInterval(this.timer);
    if (!final) return;
    this.draw();
    if (this.out.isTTY) this.out.write('\n');
  }
}

function watchWarnings(sim: Simulation, live: LiveLine): void {
  const counts = { warning: 0, refused: 0 };
  const limited = (kind: keyof typeof counts, message: string) => {
    const n = ++counts[kind];
    if (n <= MAX_WARNINGS) live.print(`ota-sim: ${message}`);
    else if (n === MAX_WARNINGS + 1)
      live.print(`ota-sim: more ${kind === 'refused' ? 'refused notices' : 'warnings'} are not shown`);
  };
  sim.on('warning', (message) => limited('warning', message));
  sim.on('refused', (device, reason) => limited('refused', `${device.name} dropped a notice: ${reason}`));
}
