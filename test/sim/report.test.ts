/** What ota-sim prints: the live line, the final table and the JSON, from a summary. */
import should from 'should';
import { FaultName, formatLine, formatTable, jsonReport, SimState, SimSummary } from '../../src/sim';
import { formatElapsed, progressBar } from '../../src/sim/report';
import { DeviceSnapshot, summarize } from '../../src/sim/states';

function device(name: string, state: SimState, version: string, extra: Partial<DeviceSnapshot> = {}): DeviceSnapshot {
  return { name, state, versions: { default: version }, faults: new Set<FaultName>(), progress: 0, ...extra };
}

/** 100 devices: 52 upgraded, 3 failed, 10 downloading at 40 %, 35 idle. */
function fleet(): SimSummary {
  const devices: DeviceSnapshot[] = [];
  for (let i = 0; i < 52; i++) devices.push(device(`u${i}`, 'upgraded', '1.0.1'));
  devices.push(
    device('f1', 'failed', '1.0.0', { failure: { cause: 'step -2', desc: 'x' }, faults: new Set(['failDownload']) }),
  );
  devices.push(
    device('f2', 'failed', '1.0.0', { failure: { cause: 'step -3', desc: 'x' }, faults: new Set(['failVerify']) }),
  );
  devices.push(
    device('f3', 'failed', '1.0.1-wrong', {
      failure: { cause: 'wrong version', desc: 'x' },
      faults: new Set(['wrongVersion']),
    }),
  );
  for (let i = 0; i < 10; i++) devices.push(device(`d${i}`, 'downloading', '1.0.0', { progress: 40 }));
  for (let i = 0; i < 35; i++) devices.push(device(`i${i}`, 'idle', '1.0.0'));
  return summarize(devices, ['default']);
}

describe('ota-sim report', function () {
  it('counts devices by state, version, failure cause and fault', function () {
    should(fleet()).eql({
      total: 100,
      states: {
        booting: 0,
        idle: 35,
        notified: 0,
        downloading: 10,
        verifying: 0,
        burning: 0,
        rebooting: 0,
        upgraded: 52,
        failed: 3,
        offline: 0,
      },
      upgraded: 52,
      failed: 3,
      byVersion: { '1.0.1': 52, '1.0.0': 47, '1.0.1-wrong': 1 },
      byModule: { default: { '1.0.1': 52, '1.0.0': 47, '1.0.1-wrong': 1 } },
      failuresByCause: { 'step -2': 1, 'step -3': 1, 'wrong version': 1 },
      faults: { failDownload: 1, failVerify: 1, failBurn: 0, offline: 0, wrongVersion: 1, silent: 0, slow: 0 },
      downloadProgress: 40,
    });
  });

  it('draws the live line: a bar of the upgraded share, then the counts that are not zero', function () {
    should(formatLine(fleet(), 12_345, 10)).equal(
      '[█████░░░░░] 52/100 upgraded · 3 failed · 10 downloading 40% · 35 idle · 12.3 s',
    );
  });

  it('shows an empty fleet with an empty bar', function () {
    should(formatLine(summarize([], ['default']), 0, 4)).equal('[░░░░] 0/0 upgraded · 0 failed · 0 ms');
  });

  it('fills the bar only for whole steps', function () {
    should(progressBar(0.999, 10)).equal('[█████████░]');
    should(progressBar(1, 4)).equal('[████]');
  });

  it('writes elapsed time in ms, seconds, then minutes', function () {
    should([formatElapsed(850), formatElapsed(12_345), formatElapsed(125_000)]).eql(['850 ms', '12.3 s', '2 min 05 s']);
  });

  it('prints the final table by state (with failure causes), version and fault', function () {
    should(formatTable(fleet(), { productKey: 'pk1', seed: 1, elapsedMs: 83_000 }).split('\n')).eql([
      'ota-sim · product pk1 · 100 devices · 1 min 23 s · seed 1',
      '',
      'state              devices',
      '  upgraded              52',
      '  failed                 3',
      '    step -2              1',
      '    step -3              1',
      '    wrong version        1',
      '  downloading           10',
      '  idle                  35',
      '',
      'version            devices',
      '  1.0.1                 52',
      '  1.0.0                 47',
      '  1.0.1-wrong            1',
      '',
      'fault              devices',
      '  --fail-download        1',
      '  --fail-verify          1',
      '  --wrong-version        1',
    ]);
  });

  it('lists versions per module when devices have several', function () {
    const summary = summarize(
      [{ ...device('a', 'idle', '1.0.0'), versions: { default: '1.0.0', MCU: '2.0.0' } }],
      ['default', 'MCU'],
    );
    should(formatTable(summary, { productKey: 'pk1', seed: 1, elapsedMs: 10 }).split('\n')).eql([
      'ota-sim · product pk1 · 1 device · 10 ms · seed 1',
      '',
      'state           devices',
      '  upgraded            0',
      '  failed              0',
      '  idle                1',
      '',
      'module default  devices',
      '  1.0.0               1',
      '',
      'module MCU      devices',
      '  2.0.0               1',
    ]);
  });

  it('gives machines the whole summary with what identifies the run', function () {
    const summary = fleet();
    should(jsonReport(summary, { productKey: 'pk1', seed: 7, elapsedMs: 1234.6 })).eql({
      productKey: 'pk1',
      seed: 7,
      elapsedMs: 1235,
      ...summary,
    });
  });
});
