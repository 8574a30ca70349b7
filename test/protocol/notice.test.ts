import should from 'should';
import {
  buildFirmwareReply,
  buildUpgradeNotice,
  checkDigest,
  FirmwareDescriptor,
  MAX_MQTT_DOWNLOAD_SIZE,
  normalizeSignMethod,
  noticeData,
  parseFirmwareDescriptor,
  parseUpgradeNotice,
} from '../../src/protocol';
import { PACKAGE, refusal } from './support';

const { md5: MD5, sha256: SHA256, url: URL } = PACKAGE;
const RES_URL = 'https://ota.example.com/fw/res-1.0.3.bin';

/** A firmware descriptor as a user gives it, for the example package. */
function given(fields: Record<string, unknown> = {}): Record<string, unknown> {
  return { version: '1.0.1', size: 12, url: URL, signMethod: 'Md5', sign: MD5, ...fields };
}

/** The descriptor of the example package with an https url and the Md5 method; a field set to undefined is left out. */
function firmware(fields: Partial<FirmwareDescriptor> = {}): FirmwareDescriptor {
  const all = {
    version: '1.0.1',
    size: 12,
    signMethod: 'Md5',
    sign: MD5,
    md5: MD5,
    module: 'default',
    url: URL,
    ...fields,
  };
  return Object.fromEntries(
    Object.entries(all).filter(([, value]) => value !== undefined),
  ) as unknown as FirmwareDescriptor;
}

const TWO_FILES = [
  { fileName: 'app.bin', fileSize: 12, fileUrl: URL, fileSign: MD5 },
  { fileName: 'res.bin', fileSize: 30, fileUrl: RES_URL, fileSign: MD5 },
];

describe('normalizeSignMethod', function () {
  it('turns every spelling of MD5 into Md5, the one every SDK accepts', function () {
    should(['Md5', 'MD5', 'md5'].map((m) => normalizeSignMethod(m))).eql(['Md5', 'Md5', 'Md5']);
  });

  it('turns every spelling of SHA-256 into SHA256', function () {
    should(['SHA256', 'Sha256', 'sha256', 'SHA-256'].map((m) => normalizeSignMethod(m))).eql([
      'SHA256',
      'SHA256',
      'SHA256',
      'SHA256',
    ]);
  });

  it('refuses any other method', function () {
    should(() => normalizeSignMethod('SHA1')).throw(
      refusal('signMethod', 'signMethod must be "Md5" or "SHA256", got "SHA1"'),
    );
    should(() => normalizeSignMethod(undefined, 'msg.payload.signMethod')).throw(
      refusal('msg.payload.signMethod', /got nothing$/),
    );
  });
});

describe('checkDigest', function () {
  it('returns the digest in lowercase hex', function () {
    should(checkDigest('sign', 'Md5', MD5.toUpperCase())).eql(MD5);
    should(checkDigest('sign', 'SHA256', SHA256)).eql(SHA256);
  });

  it('refuses a digest of the wrong length for its method', function () {
    should(() => checkDigest('sign', 'Md5', SHA256)).throw(
      refusal('sign', /^sign must be the 32-character hex MD5 digest of the package, got "/),
    );
    should(() => checkDigest('sign', 'SHA256', MD5)).throw(
      refusal('sign', /^sign must be the 64-character hex SHA-256 digest of the package, got "/),
    );
  });

  it('refuses a digest that is not hex', function () {
    should(() => checkDigest('sign', 'Md5', 'g'.repeat(32))).throw(refusal('sign', /32-character hex MD5/));
    should(() => checkDigest('sign', 'Md5', 42)).throw(refusal('sign', /got 42$/));
  });
});

describe('parseFirmwareDescriptor', function () {
  it('reads a package with its url, size and MD5', function () {
    should(parseFirmwareDescriptor(given())).eql(firmware());
  });

  it('accepts MD5 spelled any way and stores it as Md5', function () {
    should(parseFirmwareDescriptor(given({ signMethod: 'MD5' })).signMethod).eql('Md5');
  });

  it('stores an uppercase sign in lowercase', function () {
    should(parseFirmwareDescriptor(given({ sign: MD5.toUpperCase() }))).eql(firmware());
  });

  it('takes the sign from md5 when only md5 is given', function () {
    should(parseFirmwareDescriptor(given({ signMethod: undefined, sign: undefined, md5: MD5 }))).eql(firmware());
  });

  it('takes SHA256 when only sha256 is given', function () {
    should(parseFirmwareDescriptor(given({ signMethod: undefined, sign: undefined, sha256: SHA256 }))).eql(
      firmware({ signMethod: 'SHA256', sign: SHA256, md5: undefined }),
    );
  });

  it('prefers Md5, which every SDK supports, when both digests are given without a method', function () {
    should(parseFirmwareDescriptor(given({ signMethod: undefined, sign: undefined, md5: MD5, sha256: SHA256 }))).eql(
      firmware(),
    );
  });

  it('keeps the md5 of a SHA256 package, because iotkit 3.x needs it', function () {
    should(parseFirmwareDescriptor(given({ signMethod: 'sha256', sign: SHA256, md5: MD5 }))).eql(
      firmware({ signMethod: 'SHA256', sign: SHA256, md5: MD5 }),
    );
  });

  it('refuses a package without any digest', function () {
    should(() => parseFirmwareDescriptor(given({ sign: undefined }))).throw(
      refusal('msg.payload.sign', 'msg.payload.sign is required: the package digest by signMethod Md5 (or give md5)'),
    );
    should(() => parseFirmwareDescriptor(given({ signMethod: 'SHA256', sign: undefined, md5: MD5 }))).throw(
      refusal(
        'msg.payload.sign',
        'msg.payload.sign is required: the package digest by signMethod SHA256 (or give sha256)',
      ),
    );
  });

  it('refuses a sign that differs from the md5 given with it', function () {
    const other = '0'.repeat(32);
    should(() => parseFirmwareDescriptor(given({ sign: other, md5: MD5 }))).throw(
      refusal('msg.payload.sign', `msg.payload.sign must be equal to msg.payload.md5 (${MD5}), got "${other}"`),
    );
  });

  it('refuses a sign of the wrong length for the method', function () {
    should(() => parseFirmwareDescriptor(given({ signMethod: 'SHA256' }))).throw(
      refusal('msg.payload.sign', /64-character hex SHA-256/),
    );
  });

  it('refuses an md5 that is a SHA-256', function () {
    should(() => parseFirmwareDescriptor(given({ md5: SHA256 }))).throw(
      refusal('msg.payload.md5', /32-character hex MD5/),
    );
  });

  it('stores the module, "default" when none is given', function () {
    should(parseFirmwareDescriptor(given({ module: 'MCU' })).module).eql('MCU');
    should(parseFirmwareDescriptor(given({ module: 'default' })).module).eql('default');
  });

  it('keeps extData tags', function () {
    should(parseFirmwareDescriptor(given({ extData: { info: 'batch-7', region: 'eu' } })).extData).eql({
      info: 'batch-7',
      region: 'eu',
    });
  });

  it('refuses extData that is not an object of string tags', function () {
    should(() => parseFirmwareDescriptor(given({ extData: 'x' }))).throw(
      refusal('msg.payload.extData', 'msg.payload.extData must be an object of string tags, got "x"'),
    );
    should(() => parseFirmwareDescriptor(given({ extData: { build: 7 } }))).throw(
      refusal('msg.payload.extData.build', 'msg.payload.extData.build must be a string, got 7'),
    );
    const many = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`t${i}`, 'x']));
    should(() => parseFirmwareDescriptor(given({ extData: many }))).throw(
      refusal('msg.payload.extData', /^msg.payload.extData must be at most 64 tags/),
    );
  });

  it('refuses an extData tag named like a notice field Link SDK 4 reads', function () {
    should(() => parseFirmwareDescriptor(given({ extData: { info: 'x', module: 'MCU' } }))).throw(
      refusal(
        'msg.payload.extData',
        /^msg.payload.extData must be tags not named like a notice field \(version, size, url, .*\), got "module"$/,
      ),
    );
  });

  it('marks a differential package from true, 1 or "1"', function () {
    for (const isDiff of [true, 1, '1']) should(parseFirmwareDescriptor(given({ isDiff })).isDiff).eql(true);
  });

  it('leaves isDiff out for a full package', function () {
    for (const isDiff of [false, 0, null, undefined])
      should(parseFirmwareDescriptor(given({ isDiff }))).not.have.property('isDiff');
  });

  it('refuses another isDiff', function () {
    should(() => parseFirmwareDescriptor(given({ isDiff: 'yes' }))).throw(
      refusal('msg.payload.isDiff', 'msg.payload.isDiff must be true or false, got "yes"'),
    );
  });

  it('keeps a base64 digestsign and refuses anything else', function () {
    should(parseFirmwareDescriptor(given({ digestsign: 'q83v+/A=' })).digestsign).eql('q83v+/A=');
    should(() => parseFirmwareDescriptor(given({ digestsign: 'not base64!' }))).throw(
      refusal('msg.payload.digestsign', /a base64 signature/),
    );
  });

  it('refuses a url that is not http or https, or missing', function () {
    should(() => parseFirmwareDescriptor(given({ url: 'ftp://host/fw.bin' }))).throw(
      refusal('msg.payload.url', 'msg.payload.url must be an http:// or https:// URL, got "ftp://host/fw.bin"'),
    );
    should(() => parseFirmwareDescriptor(given({ url: 'https://host/a b.bin' }))).throw(
      refusal('msg.payload.url', /an http:\/\/ or https:\/\/ URL/),
    );
    should(() => parseFirmwareDescriptor(given({ url: undefined }))).throw(refusal('msg.payload.url', /got nothing$/));
  });

  it('refuses a size that is not a positive integer', function () {
    should(() => parseFirmwareDescriptor(given({ size: 0 }))).throw(
      refusal('msg.payload.size', /^msg.payload.size must be an integer from 1 to \d+, got 0$/),
    );
    should(() => parseFirmwareDescriptor(given({ size: undefined }))).throw(
      refusal('msg.payload.size', /^msg.payload.size is required/),
    );
  });

  it('refuses a descriptor without a version', function () {
    should(() => parseFirmwareDescriptor(given({ version: undefined }))).throw(
      refusal('msg.payload.version', /^msg.payload.version is required/),
    );
  });

  it('refuses something that is not an object', function () {
    should(() => parseFirmwareDescriptor('1.0.1')).throw(
      refusal('msg.payload', /^msg.payload must be a firmware descriptor object/),
    );
  });

  describe('download over MQTT', function () {
    it('takes a stream instead of a url, file 1 by default', function () {
      should(parseFirmwareDescriptor(given({ url: undefined, dProtocol: 'mqtt', streamId: 1234567 }))).eql(
        firmware({ url: undefined, streamId: 1234567, streamFileId: 1 }),
      );
    });

    it('drops a url given along with the stream', function () {
      should(parseFirmwareDescriptor(given({ dProtocol: 'MQTT', streamId: 5, streamFileId: 2 }))).eql(
        firmware({ url: undefined, streamId: 5, streamFileId: 2 }),
      );
    });

    it('refuses dProtocol without a streamId', function () {
      should(() => parseFirmwareDescriptor(given({ dProtocol: 'mqtt' }))).throw(
        refusal('msg.payload.streamId', 'msg.payload.streamId is required: an integer from 0 to 2147483647'),
      );
    });

    it('refuses another dProtocol', function () {
      should(() => parseFirmwareDescriptor(given({ dProtocol: 'https', streamId: 5 }))).throw(
        refusal('msg.payload.dProtocol', /"mqtt" \(or leave it out and give a url\)/),
      );
    });

    it('takes a package of 16 MiB', function () {
      should(parseFirmwareDescriptor(given({ size: MAX_MQTT_DOWNLOAD_SIZE, streamId: 1 })).size).eql(16 * 1024 * 1024);
    });

    it('refuses a package over 16 MiB', function () {
      should(() =>
        parseFirmwareDescriptor(given({ size: MAX_MQTT_DOWNLOAD_SIZE + 1, dProtocol: 'mqtt', streamId: 1 })),
      ).throw(
        refusal(
          'msg.payload.size',
          'msg.payload.size must be at most 16777216 bytes for a download over MQTT, got 16777217',
        ),
      );
    });
  });

  describe('several files', function () {
    it('keeps the files, their sizes summed', function () {
      should(parseFirmwareDescriptor({ version: '1.0.3', signMethod: 'Md5', files: TWO_FILES })).eql({
        version: '1.0.3',
        size: 42,
        signMethod: 'Md5',
        sign: '',
        md5: '',
        module: 'default',
        files: TWO_FILES,
      });
    });

    it('turns a one-entry files array into the single-file form, which Link SDK 4 needs', function () {
      should(parseFirmwareDescriptor({ version: '1.0.3', signMethod: 'Md5', files: [TWO_FILES[0]] })).eql(
        firmware({ version: '1.0.3' }),
      );
    });

    it('gives a one-entry SHA256 files array no md5', function () {
      const files = [{ ...TWO_FILES[0], fileSign: SHA256 }];
      should(parseFirmwareDescriptor({ version: '1.0.3', signMethod: 'SHA256', files })).eql(
        firmware({ version: '1.0.3', signMethod: 'SHA256', sign: SHA256, md5: undefined }),
      );
    });

    it('refuses an empty list or more than 20 files', function () {
      should(() => parseFirmwareDescriptor({ version: '1', files: [] })).throw(
        refusal('msg.payload.files', 'msg.payload.files must be an array of 1 to 20 files, got an array of 0 items'),
      );
      should(() => parseFirmwareDescriptor({ version: '1', files: Array(21).fill(TWO_FILES[0]) })).throw(
        refusal('msg.payload.files', /got an array of 21 items$/),
      );
    });

    it('refuses a file without its url or with a sign of the wrong length', function () {
      should(() =>
        parseFirmwareDescriptor({ version: '1', files: [TWO_FILES[0], { ...TWO_FILES[1], fileUrl: undefined }] }),
      ).throw(
        refusal(
          'msg.payload.files[1].fileUrl',
          'msg.payload.files[1].fileUrl must be an http:// or https:// URL, got nothing',
        ),
      );
      should(() =>
        parseFirmwareDescriptor({ version: '1', files: [TWO_FILES[0], { ...TWO_FILES[1], fileSign: SHA256 }] }),
      ).throw(refusal('msg.payload.files[1].fileSign', /32-character hex MD5/));
      should(() => parseFirmwareDescriptor({ version: '1', files: ['app.bin'] })).throw(
        refusal('msg.payload.files[0]', /an object \{fileName, fileSize, fileUrl, fileSign\}/),
      );
    });
  });
});

describe('noticeData', function () {
  it("puts the fields of a single file in the platform's order, extData last", function () {
    const d = firmware({ module: 'MCU', isDiff: true, digestsign: 'c2ln', extData: { info: 'x' } });
    should(Object.keys(noticeData(d))).eql([
      'size',
      'version',
      'url',
      'signMethod',
      'sign',
      'md5',
      'module',
      'isDiff',
      'digestsign',
      'extData',
    ]);
  });

  it('puts the stream fields instead of the url for a download over MQTT, extData last', function () {
    const d = firmware({ url: undefined, streamId: 7, streamFileId: 1, extData: { info: 'x' } });
    should(Object.keys(noticeData(d))).eql([
      'size',
      'version',
      'dProtocol',
      'streamId',
      'streamFileId',
      'signMethod',
      'sign',
      'md5',
      'extData',
    ]);
  });

  it('puts files after extData, because Link SDK 4 counts every object after the array as one more file', function () {
    const d = parseFirmwareDescriptor({ version: '1.0.3', files: TWO_FILES, extData: { info: 'x' } });
    should(Object.keys(noticeData(d))).eql(['size', 'version', 'signMethod', 'extData', 'files']);
  });

  it('leaves out extData without tags', function () {
    should(noticeData(firmware({ extData: {} }))).not.have.property('extData');
  });
});

describe('buildUpgradeNotice', function () {
  it('builds the T2 every SDK accepts, compact, code "1000", message "success", numeric id', function () {
    const notice = buildUpgradeNotice(firmware({ module: 'MCU', extData: { info: 'batch-7' } }), 1617773607348);
    should(notice).eql(
      `{"code":"1000","data":{"size":12,"version":"1.0.1","url":"${URL}","signMethod":"Md5","sign":"${MD5}","md5":"${MD5}","module":"MCU","extData":{"info":"batch-7"}},"id":1617773607348,"message":"success"}`,
    );
    should(notice).eql(JSON.stringify(JSON.parse(notice)));
  });

  it('leaves the module out for default', function () {
    should(JSON.parse(buildUpgradeNotice(firmware(), 1)).data).eql({
      size: 12,
      version: '1.0.1',
      url: URL,
      signMethod: 'Md5',
      sign: MD5,
      md5: MD5,
    });
  });

  it('sends a SHA256 package with its md5, for iotkit 3.x', function () {
    const d = parseFirmwareDescriptor(given({ signMethod: 'SHA256', sign: SHA256, md5: MD5 }));
    should(JSON.parse(buildUpgradeNotice(d, 1)).data).eql({
      size: 12,
      version: '1.0.1',
      url: URL,
      signMethod: 'SHA256',
      sign: SHA256,
      md5: MD5,
    });
  });

  it('sends a SHA256 package without md5 when none is known', function () {
    const d = parseFirmwareDescriptor(given({ signMethod: 'SHA256', sign: SHA256 }));
    should(JSON.parse(buildUpgradeNotice(d, 1)).data).eql({
      size: 12,
      version: '1.0.1',
      url: URL,
      signMethod: 'SHA256',
      sign: SHA256,
    });
  });

  it('spells MD5 given in any case as Md5 on the wire', function () {
    should(
      JSON.parse(buildUpgradeNotice(parseFirmwareDescriptor(given({ signMethod: 'MD5', sign: MD5.toUpperCase() })), 1))
        .data,
    ).match({ signMethod: 'Md5', sign: MD5 });
  });

  it('sends isDiff 1 for a differential package only', function () {
    should(JSON.parse(buildUpgradeNotice(firmware({ isDiff: true }), 1)).data.isDiff).eql(1);
    should(JSON.parse(buildUpgradeNotice(firmware({ isDiff: false }), 1)).data).not.have.property('isDiff');
  });

  it('puts extData last in data', function () {
    const data = JSON.parse(
      buildUpgradeNotice(firmware({ module: 'MCU', isDiff: true, digestsign: 'c2ln', extData: { a: 'b' } }), 1),
    ).data;
    should(Object.keys(data).pop()).eql('extData');
  });

  it('sends a download over MQTT with dProtocol, streamId and streamFileId and no url', function () {
    const d = parseFirmwareDescriptor(given({ version: '1.0.2', dProtocol: 'mqtt', streamId: 1234567 }));
    should(JSON.parse(buildUpgradeNotice(d, 1617773607348))).eql({
      code: '1000',
      data: {
        size: 12,
        version: '1.0.2',
        dProtocol: 'mqtt',
        streamId: 1234567,
        streamFileId: 1,
        signMethod: 'Md5',
        sign: MD5,
        md5: MD5,
      },
      id: 1617773607348,
      message: 'success',
    });
  });

  it('sends several files with signMethod at data level and no sign of its own', function () {
    const d = parseFirmwareDescriptor({ version: '1.0.3', signMethod: 'Md5', files: TWO_FILES });
    should(JSON.parse(buildUpgradeNotice(d, 1)).data).eql({
      size: 42,
      version: '1.0.3',
      signMethod: 'Md5',
      files: TWO_FILES,
    });
  });

  it('sends a one-entry files array as a single file', function () {
    const d = parseFirmwareDescriptor({ version: '1.0.3', signMethod: 'Md5', files: [TWO_FILES[0]] });
    should(JSON.parse(buildUpgradeNotice(d, 1)).data).eql({
      size: 12,
      version: '1.0.3',
      url: URL,
      signMethod: 'Md5',
      sign: MD5,
      md5: MD5,
    });
  });

  it('refuses an id that is not a non-negative integer', function () {
    should(() => buildUpgradeNotice(firmware(), -1)).throw(refusal('id', 'id must be a non-negative integer, got -1'));
    should(() => buildUpgradeNotice(firmware(), 1.5)).throw(
      refusal('id', 'id must be a non-negative integer, got 1.5'),
    );
  });
});

describe('buildFirmwareReply', function () {
  it("answers a query with integer code 200, its own id and T2's data", function () {
    should(buildFirmwareReply(17, firmware({ module: 'MCU' }))).eql(
      `{"id":17,"code":200,"data":{"size":12,"version":"1.0.1","url":"${URL}","signMethod":"Md5","sign":"${MD5}","md5":"${MD5}","module":"MCU"}}`,
    );
  });

  it('echoes a string id as a string', function () {
    should(JSON.parse(buildFirmwareReply('123', firmware())).id).eql('123');
  });

  it('answers data {} when nothing is pending', function () {
    should(buildFirmwareReply(18, undefined)).eql('{"id":18,"code":200,"data":{}}');
  });

  it('gives a query without an id a millisecond timestamp', function () {
    const before = Date.now();
    const { id } = JSON.parse(buildFirmwareReply(undefined, undefined));
    should(id).be.within(before, Date.now());
  });
});

describe('parseUpgradeNotice', function () {
  const descriptors: Record<string, FirmwareDescriptor> = {
    'a package by url': firmware({ module: 'MCU', extData: { info: 'batch-7' } }),
    'a SHA256 package with its md5': firmware({ signMethod: 'SHA256', sign: SHA256 }),
    'a differential package with a signature': firmware({ isDiff: true, digestsign: 'c2lnbmF0dXJl' }),
    'a package over MQTT': firmware({ url: undefined, streamId: 99, streamFileId: 1 }),
    'several files': parseFirmwareDescriptor({ version: '1.0.3', files: TWO_FILES, extData: { info: 'x' } }),
  };
  for (const [what, d] of Object.entries(descriptors)) {
    it(`reads back a T2 of ${what}`, function () {
      should(parseUpgradeNotice(buildUpgradeNotice(d, 1617773607348))).eql({ id: 1617773607348, firmware: d });
    });
  }

  it('reads a T5 with a pending firmware', function () {
    should(parseUpgradeNotice(buildFirmwareReply('9', firmware()))).eql({ id: '9', firmware: firmware() });
  });

  it('reads a T5 with data {} as nothing pending', function () {
    should(parseUpgradeNotice('{"id":18,"code":200,"data":{}}')).eql({ id: 18 });
  });

  it('accepts Sha256 from a platform that sends it', function () {
    const notice = buildUpgradeNotice(firmware({ signMethod: 'SHA256', sign: SHA256, md5: undefined }), 1).replace(
      '"SHA256"',
      '"Sha256"',
    );
    should(parseUpgradeNotice(notice).firmware?.signMethod).eql('SHA256');
  });

  it('refuses a T2 whose message is not "success", as iotkit 3.x does', function () {
    should(() => parseUpgradeNotice(buildUpgradeNotice(firmware(), 1).replace('"success"', '"fail"'))).throw(
      refusal('msg.notice.message', 'msg.notice.message must be "success", got "fail"'),
    );
  });

  it('refuses a code that is neither "1000" nor 200', function () {
    should(() => parseUpgradeNotice('{"code":"500","data":{}}')).throw(
      refusal('msg.notice.code', 'msg.notice.code must be "1000" (T2) or 200 (T5), got "500"'),
    );
  });

  it('refuses a notice without data', function () {
    should(() => parseUpgradeNotice('{"code":"1000","id":1,"message":"success"}')).throw(
      refusal('msg.notice.data', 'msg.notice.data must be an object, got nothing'),
    );
  });

  it('refuses a T2 with empty data, naming the first missing field', function () {
    should(() => parseUpgradeNotice('{"code":"1000","data":{},"id":1,"message":"success"}')).throw(
      refusal('msg.notice.data.sign', /is required/),
    );
  });

  it('refuses a notice whose url is not a URL', function () {
    const notice = buildUpgradeNotice(firmware(), 1).replace(URL, 'update package downloaded url address');
    should(() => parseUpgradeNotice(notice)).throw(
      refusal('msg.notice.data.url', /got "update package downloaded url address"$/),
    );
  });
});

describe('a catalog record as a descriptor', function () {
  it('a streamId without dProtocol does not make it a download over MQTT', function () {
    const record = {
      id: 'abc',
      version: '2.0.0',
      size: 12,
      md5: 'f'.repeat(32),
      sha256: 'e'.repeat(64),
      signMethod: 'Md5',
      streamId: 1001,
      url: 'http://h/ota/firmware/f/abc?e=1&s=x',
    };
    should(parseFirmwareDescriptor(record)).eql({
      version: '2.0.0',
      size: 12,
      signMethod: 'Md5',
      sign: 'f'.repeat(32),
      md5: 'f'.repeat(32),
      module: 'default',
      url: 'http://h/ota/firmware/f/abc?e=1&s=x',
    });
  });
});
