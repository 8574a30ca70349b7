/**
 * Real parts a test needs (Mosquitto, Chromium). On a developer's machine without one, its tests
 * are skipped with a note; under CI (`CI=true`) a missing part fails the run, so a green CI
 * always means the tests ran.
 */
import type { Context } from 'mocha';

export function needPart(ctx: Context, present: unknown, what: string): asserts present {
  if (present) return;
  if (process.env.CI === 'true')
    throw new Error(`${what} is missing, and CI must run the tests that need it (.ci/run installs it)`);
  console.log(`    (skipped: ${what} is missing)`);
  ctx.skip();
}
