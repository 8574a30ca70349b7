import should from 'should';
import type { Context } from 'mocha';
import { needPart } from './helpers/parts';

describe('a missing real part (Mosquitto, Chromium)', function () {
  const ci = process.env.CI;
  afterEach(function () {
    if (ci === undefined) delete process.env.CI;
    else process.env.CI = ci;
  });
  const context = (skipped: string[]) => ({ skip: () => skipped.push('skip') }) as unknown as Context;

  it('fails the run under CI=true, naming the part', function () {
    process.env.CI = 'true';
    const skipped: string[] = [];
    should(() => needPart(context(skipped), undefined, 'Mosquitto')).throw(
      'Mosquitto is missing, and CI must run the tests that need it (.ci/run installs it)',
    );
    should(skipped).eql([]);
  });

  it('skips the tests that need it on a developer machine', function () {
    delete process.env.CI;
    const skipped: string[] = [];
    needPart(context(skipped), undefined, 'Chromium');
    should(skipped).eql(['skip']);
  });

  it('lets the tests run when it is there', function () {
    process.env.CI = 'true';
    const skipped: string[] = [];
    needPart(context(skipped), { port: 1883 }, 'Mosquitto');
    should(skipped).eql([]);
  });
});
