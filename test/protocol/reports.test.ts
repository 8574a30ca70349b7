import fc from 'fast-check';
import should from 'should';
import {
  buildBlockRequest,
  buildFirmwareQuery,
  buildProgressReport,
  buildVersionReport,
  failureReason,
  FAILURE_STEPS,
  MAX_BLOCK_SIZE,
  parseBlockRequest,
  parseFirmwareQuery,
  parseProgressReport,
  parseVersionReport,
  progressOutcome,
} from '../../src/protocol';
import { refusal } from './support';

/** A T3 body with `step` as given (left out when undefined). */
function progressWith(step: unknown): string {
  return JSON.stringify({ id: 1, params: { step, desc: '' } });
}

/** Versions the platform stores: any printable text of 1 to 64 characters without " or \\. */
const printableLabel = fc
  .string({ unit: 'grapheme', minLength: 1, maxLength: 32 })
  // eslint-disable-next-line no-control-regex -- control characters are what a label may not hold
  .filter((s) => s.length <= 64 && s.isWellFormed() && !/[\u0000-\u001f\u007f-\u009f"\\]/.test(s));

describe('parseVersionReport', function () {
  it("reads Link SDK 4's T1, numeric id and a blank after the comma", function () {
    should(parseVersionReport('{"id":2, "params":{"version":"1.0.1","module":"MCU"}}')).eql({
      id: 2,
      version: '1.0.1',
      module: 'MCU',
    });
  });

  it('keeps a string id as a string', function () {
    should(parseVersionReport('{"id":"123","params":{"version":"1.0.1"}}')).eql({
      id: '123',
      version: '1.0.1',
      module: 'default',
    });
  });

  it("keeps iotkit 3.x's id 0", function () {
    should(parseVersionReport('{"id":0,"params":{"version":"1.0.0"}}')).eql({
      id: 0,
      version: '1.0.0',
      module: 'default',
    });
  });

  it('does not require an id', function () {
    should(parseVersionReport('{"params":{"version":"1.0.0"}}')).eql({
      id: undefined,
      version: '1.0.0',
      module: 'default',
    });
  });

  it('an absent module and the module "default" both mean default', function () {
    should(parseVersionReport('{"id":1,"params":{"version":"2.0"}}').module).eql('default');
    should(parseVersionReport('{"id":1,"params":{"version":"2.0","module":"default"}}').module).eql('default');
  });

  it('keeps a named module', function () {
    should(parseVersionReport('{"id":1,"params":{"module":"resource","version":"res-1.2.5"}}')).eql({
      id: 1,
      version: 'res-1.2.5',
      module: 'resource',
    });
  });

  it('does not mind whitespace, line breaks or key order', function () {
    const payload = '{\n\t"params" : {\r\n  "module" :  "MCU" ,\n  "version":"1.0.1"\n },\n "id" : 9\n}';
    should(parseVersionReport(payload)).eql({ id: 9, version: '1.0.1', module: 'MCU' });
  });

  it("stores a hand-written device's version 1-45-345a as it is", function () {
    should(parseVersionReport(JSON.stringify({ id: 1, params: { version: '1-45-345a' } }))).eql({
      id: 1,
      version: '1-45-345a',
      module: 'default',
    });
  });

  it('accepts any printable version of up to 64 characters', function () {
    const version = 'V 2.0 (build #7) [beta]/α'.padEnd(64, '~');
    should(parseVersionReport(Buffer.from(JSON.stringify({ params: { version } }))).version).eql(version);
  });

  it('refuses a report without params', function () {
    should(() => parseVersionReport('{"id":1,"version":"1.0"}')).throw(
      refusal('params', 'params is required: an object'),
    );
    should(() => parseVersionReport('{"id":1,"params":"1.0"}')).throw(
      refusal('params', 'params must be an object, got "1.0"'),
    );
  });

  it('refuses a report without a version', function () {
    should(() => parseVersionReport('{"id":1,"params":{"module":"MCU"}}')).throw(
      refusal('params.version', 'params.version is required: a non-empty string of up to 64 printable characters'),
    );
  });

  it('refuses an empty, numeric, too long or unprintable version', function () {
    should(() => parseVersionReport('{"params":{"version":""}}')).throw(
      refusal('params.version', 'params.version must be a non-empty string, got an empty string'),
    );
    should(() => parseVersionReport('{"params":{"version":1.1}}')).throw(
      refusal('params.version', 'params.version must be a string, got 1.1'),
    );
    should(() => parseVersionReport(JSON.stringify({ params: { version: 'v'.repeat(65) } }))).throw(
      refusal('params.version', /^params.version must be at most 64 characters/),
    );
    should(() => parseVersionReport('{"params":{"version":"1.0\\u0000"}}')).throw(
      refusal('params.version', /^params.version must be printable text \(no control characters\)/),
    );
    should(() => parseVersionReport('{"params":{"version":"1.0\\ud800"}}')).throw(
      refusal('params.version', /printable text/),
    );
  });

  it('refuses a module that is not a label', function () {
    should(() => parseVersionReport('{"params":{"version":"1.0","module":42}}')).throw(
      refusal('params.module', 'params.module must be a string, got 42'),
    );
    should(() => parseVersionReport('{"params":{"version":"1.0","module":"MCU\\n"}}')).throw(
      refusal('params.module', /printable text/),
    );
  });

  it('refuses an id that is neither a number nor a short string', function () {
    should(() => parseVersionReport('{"id":[1],"params":{"version":"1.0"}}')).throw(
      refusal('id', 'id must be a number or a string of up to 64 characters, got an array of 1 items'),
    );
  });

  it('refuses a payload that is not a JSON object', function () {
    should(() => parseVersionReport('1.0.1')).throw(
      refusal('msg.payload', 'msg.payload must be valid JSON, got "1.0.1"'),
    );
    should(() => parseVersionReport('[]')).throw(
      refusal('msg.payload', 'msg.payload must be a JSON object, got an array of 0 items'),
    );
  });
});

describe('parseProgressReport', function () {
  it('reads a step sent as a string', function () {
    should(parseProgressReport('{"id":11, "params":{"step":"23","desc":""}}')).eql({
      id: 11,
      step: 23,
      desc: '',
      module: 'default',
    });
  });

  it('reads a step sent as a number, keeping desc as it came (as a hand-written Node.js device does)', function () {
    should(parseProgressReport(JSON.stringify({ id: 1, params: { step: 23, desc: ' xxxxxxxx ' } }))).eql({
      id: 1,
      step: 23,
      desc: ' xxxxxxxx ',
      module: 'default',
    });
  });

  it('takes step 0 for a download that started', function () {
    should(parseProgressReport(progressWith('0')).step).eql(0);
  });

  it('takes step 100 for a finished download', function () {
    should(parseProgressReport(progressWith(100)).step).eql(100);
  });

  it('reads the failure steps -1 to -4', function () {
    should([-1, -2, -3, -4].map((step) => parseProgressReport(progressWith(String(step))).step)).eql([-1, -2, -3, -4]);
  });

  it('leaves desc out when the device sent none (iotkit 2.x)', function () {
    should(parseProgressReport('{"id":0,"params": {"step": "23"}}')).eql({ id: 0, step: 23, module: 'default' });
  });

  it('keeps the module of the report', function () {
    should(parseProgressReport('{"id":17, "params":{"step":"-3","desc":"","module":"MCU"}}')).eql({
      id: 17,
      step: -3,
      desc: '',
      module: 'MCU',
    });
  });

  it('refuses step 101', function () {
    should(() => parseProgressReport(progressWith('101'))).throw(
      refusal('params.step', 'params.step must be an integer from -4 to 100, got "101"'),
    );
  });

  it('refuses step -5', function () {
    should(() => parseProgressReport(progressWith(-5))).throw(
      refusal('params.step', 'params.step must be an integer from -4 to 100, got -5'),
    );
  });

  it('refuses step "1.5" and 1.5', function () {
    should(() => parseProgressReport(progressWith('1.5'))).throw(
      refusal('params.step', 'params.step must be an integer from -4 to 100, got "1.5"'),
    );
    should(() => parseProgressReport(progressWith(1.5))).throw(
      refusal('params.step', 'params.step must be an integer from -4 to 100, got 1.5'),
    );
  });

  it('refuses step "abc"', function () {
    should(() => parseProgressReport(progressWith('abc'))).throw(
      refusal('params.step', 'params.step must be an integer from -4 to 100, got "abc"'),
    );
  });

  it('refuses a report without a step', function () {
    should(() => parseProgressReport(progressWith(undefined))).throw(
      refusal('params.step', 'params.step is required: an integer from -4 to 100'),
    );
  });

  it('refuses a desc that is not text, or longer than 4096 characters', function () {
    should(() => parseProgressReport('{"params":{"step":"1","desc":5}}')).throw(
      refusal('params.desc', 'params.desc must be a string, got 5'),
    );
    should(() => parseProgressReport(JSON.stringify({ params: { step: '1', desc: 'd'.repeat(4097) } }))).throw(
      refusal('params.desc', /^params.desc must be at most 4096 characters/),
    );
  });
});

describe('failureReason', function () {
  it('says what each failure step means', function () {
    should([-1, -2, -3, -4].map((step) => failureReason(step))).eql([
      'step -1 (upgrade failed)',
      'step -2 (download failed)',
      'step -3 (verification failed (digest or signature mismatch))',
      'step -4 (flash write (burn) failed)',
    ]);
  });

  it("adds the device's own description, trimmed, when there is one", function () {
    should(failureReason(-2, ' fetch failed ')).eql('step -2 (download failed): fetch failed');
    should(failureReason(-2, '   ')).eql('step -2 (download failed)');
  });

  it('has a table of exactly the four failure steps', function () {
    should(Object.keys(FAILURE_STEPS).map(Number).sort()).eql([-1, -2, -3, -4]);
  });
});

describe('progressOutcome', function () {
  it('a step from 0 to 100 means the upgrade is in progress', function () {
    should([0, 1, 50, 100].map((step) => progressOutcome(step))).eql(Array(4).fill({ state: 'IN_PROGRESS' }));
  });

  it('a negative step fails the upgrade with a readable reason', function () {
    should(progressOutcome(-3, 'md5 mismatch')).eql({
      state: 'FAILED',
      reason: 'step -3 (verification failed (digest or signature mismatch)): md5 mismatch',
    });
    should(progressOutcome(-4)).eql({ state: 'FAILED', reason: 'step -4 (flash write (burn) failed)' });
  });
});

describe('parseFirmwareQuery', function () {
  it('reads the short form the SDKs send', function () {
    should(parseFirmwareQuery('{"id":19, "params":{}}')).eql({ id: 19, module: 'default' });
  });

  it('reads the short form with a module', function () {
    should(parseFirmwareQuery('{"id": 6, "params": {"module": "MCU"}}')).eql({ id: 6, module: 'MCU' });
  });

  it('reads the full documented form', function () {
    should(
      parseFirmwareQuery('{"id":"1","version":"1.0","params":{"module":"MCU"},"method":"thing.ota.firmware.get"}'),
    ).eql({ id: '1', module: 'MCU' });
  });

  it('takes a query without params for the default module', function () {
    should(parseFirmwareQuery('{"id":3}')).eql({ id: 3, module: 'default' });
  });

  it('refuses another method', function () {
    should(() => parseFirmwareQuery('{"id":1,"params":{},"method":"thing.ota.firmware.put"}')).throw(
      refusal('method', 'method must be "thing.ota.firmware.get" when present, got "thing.ota.firmware.put"'),
    );
  });

  it('refuses params that are not an object', function () {
    should(() => parseFirmwareQuery('{"id":1,"params":[]}')).throw(
      refusal('params', 'params must be an object, got an array of 0 items'),
    );
  });
});

describe('parseBlockRequest', function () {
  const linkSdk4 =
    '{"id":"1","version":"1.0","params":{"fileToken":"default","fileInfo":{"streamId":1234567,"fileId":1,},"fileBlock":{"size":5120,"offset":0}}}';

  it("reads Link SDK 4's request, trailing comma after fileId included", function () {
    should(parseBlockRequest(linkSdk4)).eql({
      id: '1',
      streamId: 1234567,
      fileId: 1,
      size: 5120,
      offset: 0,
      fileToken: 'default',
    });
  });

  it('reads the same request in strict JSON', function () {
    should(parseBlockRequest(linkSdk4.replace(',}', '}'))).eql(parseBlockRequest(linkSdk4));
  });

  it('leaves fileToken out when the device sent none', function () {
    should(
      parseBlockRequest('{"id":"2","params":{"fileInfo":{"streamId":7,"fileId":1},"fileBlock":{"size":4,"offset":8}}}'),
    ).eql({
      id: '2',
      streamId: 7,
      fileId: 1,
      size: 4,
      offset: 8,
    });
  });

  it('refuses a request without fileInfo or fileBlock', function () {
    should(() => parseBlockRequest('{"params":{"fileBlock":{"size":1,"offset":0}}}')).throw(
      refusal('params.fileInfo', 'params.fileInfo is required: an object'),
    );
    should(() => parseBlockRequest('{"params":{"fileInfo":{"streamId":1,"fileId":1}}}')).throw(
      refusal('params.fileBlock', 'params.fileBlock is required: an object'),
    );
  });

  it('refuses a block size of 0 or over 128 KiB', function () {
    const withSize = (size: number) =>
      JSON.stringify({ params: { fileInfo: { streamId: 1, fileId: 1 }, fileBlock: { size, offset: 0 } } });
    should(() => parseBlockRequest(withSize(0))).throw(
      refusal('params.fileBlock.size', 'params.fileBlock.size must be an integer from 1 to 131072, got 0'),
    );
    should(() => parseBlockRequest(withSize(MAX_BLOCK_SIZE + 1))).throw(
      refusal('params.fileBlock.size', /got 131073$/),
    );
  });

  it('refuses a negative offset and a stream id that is not a number', function () {
    should(() =>
      parseBlockRequest('{"params":{"fileInfo":{"streamId":1,"fileId":1},"fileBlock":{"size":1,"offset":-1}}}'),
    ).throw(refusal('params.fileBlock.offset', /^params.fileBlock.offset must be an integer from 0 to \d+, got -1$/));
    should(() =>
      parseBlockRequest('{"params":{"fileInfo":{"streamId":"abc","fileId":1},"fileBlock":{"size":1,"offset":0}}}'),
    ).throw(
      refusal(
        'params.fileInfo.streamId',
        'params.fileInfo.streamId must be an integer from 0 to 2147483647, got "abc"',
      ),
    );
  });

  it('refuses a fileToken longer than 64 characters', function () {
    const payload = JSON.stringify({
      params: { fileToken: 't'.repeat(65), fileInfo: { streamId: 1, fileId: 1 }, fileBlock: { size: 1, offset: 0 } },
    });
    should(() => parseBlockRequest(payload)).throw(
      refusal('params.fileToken', /^params.fileToken must be at most 64 characters/),
    );
  });
});

describe('buildVersionReport', function () {
  it('builds T1 as Link SDK 4 does, compact with a numeric id', function () {
    should(buildVersionReport({ id: 2, version: '1.0.1', module: 'MCU' })).eql(
      '{"id":2,"params":{"version":"1.0.1","module":"MCU"}}',
    );
  });

  it('leaves the module out for default and uses id 1 when none is given', function () {
    should(buildVersionReport({ version: '1.0.0', module: 'default' })).eql('{"id":1,"params":{"version":"1.0.0"}}');
  });

  it('refuses a version that is not a label', function () {
    should(() => buildVersionReport({ version: '' })).throw(
      refusal('version', 'version must be a non-empty string, got an empty string'),
    );
  });

  it('parses back to the same report', function () {
    fc.assert(
      fc.property(
        fc.option(fc.oneof(fc.nat(), fc.string({ maxLength: 64 })), { nil: undefined }),
        printableLabel,
        fc.option(printableLabel, { nil: undefined }),
        (id, version, module) => {
          should(parseVersionReport(buildVersionReport({ id, version, module }))).eql({
            id: id ?? 1,
            version,
            module: module ?? 'default',
          });
        },
      ),
    );
  });
});

describe('buildProgressReport', function () {
  it('builds T3 as Link SDK 4 does, step as a string and desc always there', function () {
    should(buildProgressReport({ id: 13, step: -1 })).eql('{"id":13,"params":{"step":"-1","desc":""}}');
    should(buildProgressReport({ step: 50, desc: 'half', module: 'MCU' })).eql(
      '{"id":1,"params":{"step":"50","desc":"half","module":"MCU"}}',
    );
  });

  it('refuses a step outside -4..100', function () {
    should(() => buildProgressReport({ step: 101 })).throw(
      refusal('step', 'step must be an integer from -4 to 100, got 101'),
    );
  });

  it('parses back to the same report', function () {
    fc.assert(
      fc.property(
        fc.integer({ min: -4, max: 100 }),
        fc.string({ maxLength: 100 }),
        fc.option(printableLabel, { nil: undefined }),
        (step, desc, module) => {
          should(parseProgressReport(buildProgressReport({ id: 5, step, desc, module }))).eql({
            id: 5,
            step,
            desc,
            module: module ?? 'default',
          });
        },
      ),
    );
  });
});

describe('buildFirmwareQuery', function () {
  it('builds T4 in the full form', function () {
    should(buildFirmwareQuery({})).eql('{"id":1,"version":"1.0","params":{},"method":"thing.ota.firmware.get"}');
    should(buildFirmwareQuery({ id: '7', module: 'MCU' })).eql(
      '{"id":"7","version":"1.0","params":{"module":"MCU"},"method":"thing.ota.firmware.get"}',
    );
  });

  it('parses back to the same query', function () {
    should(parseFirmwareQuery(buildFirmwareQuery({ id: 4, module: 'MCU' }))).eql({ id: 4, module: 'MCU' });
  });
});

describe('buildBlockRequest', function () {
  it('builds T6 as Link SDK 4 does, string id and fileToken "default", in strict JSON', function () {
    should(buildBlockRequest({ id: 1, streamId: 1234567, fileId: 1, size: 5120, offset: 0 })).eql(
      '{"id":"1","version":"1.0","params":{"fileToken":"default","fileInfo":{"streamId":1234567,"fileId":1},"fileBlock":{"size":5120,"offset":0}}}',
    );
  });

  it('parses back to the same request', function () {
    const request = { id: '3', fileToken: 'default', streamId: 9, fileId: 1, size: 4, offset: 8 };
    should(parseBlockRequest(buildBlockRequest(request))).eql(request);
  });
});

describe('labels devices cannot read', function () {
  it('a version with a double quote or a backslash is refused', function () {
    should(() => parseVersionReport({ params: { version: 'v"1' } })).throw(
      /params.version must be text without " or \\/,
    );
    should(() => buildVersionReport({ version: 'a\\b' })).throw(/version must be text without " or \\/);
  });
});
