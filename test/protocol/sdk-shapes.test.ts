/**
 * The real SDKs' messages (test/fixtures/sdk-shapes.json, docs/sdk-shapes.md) against the codec:
 * what devices send must decode to what the fixture expects, and what we send must be read by each
 * SDK (sdk-readers.ts) the way the fixture says it reads the platform's own messages.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import should from 'should';
import {
  blockReplyMessage,
  buildBlockReply,
  decodeDeviceMessage,
  DeviceMessage,
  FirmwareDescriptor,
  firmwareReplyMessage,
  InboundTopic,
  MqttMessage,
  parseBlockReply,
  parseFirmwareDescriptor,
  parseTopic,
  parseUpgradeNotice,
  requestReplyMessage,
  upgradeMessage,
} from '../../src/protocol';
import {
  iotkit3ReadsNotice,
  linkSdk4ReadsBlock,
  linkSdk4ReadsNotice,
  pythonLinkkitReadsNotice,
  readerFor,
  Reading,
} from './sdk-readers';
import { DEVICE, PACKAGE, refusal } from './support';

interface Vector {
  sdk: string;
  topicKind: string;
  direction: 'device->platform' | 'platform->device';
  topic: string;
  payload: string;
  payloadHex?: string;
  expect: Record<string, unknown>;
  notes: string;
}

const fixture = JSON.parse(readFileSync(join(__dirname, '../../../test/fixtures/sdk-shapes.json'), 'utf8')) as {
  examplePackage: { text: string; size: number; md5: string; sha256: string };
  vectors: Vector[];
};
const vectors = fixture.vectors.map((vector, index) => ({ ...vector, index }));
const fromDevices = vectors.filter((v) => v.direction === 'device->platform');
const toDevices = vectors.filter((v) => v.direction === 'platform->device');
const notices = toDevices.filter((v) => v.topicKind !== 'fileDownloadReply');
const blocks = toDevices.filter((v) => v.topicKind === 'fileDownloadReply');
const EVERY_INBOUND: InboundTopic[] = ['inform', 'progress', 'firmwareGet', 'fileDownload', 'request'];

/** The one vector whose `expect.reason` mentions `words`. */
function refusedBecause(words: string): Vector & { index: number } {
  const found = toDevices.filter((v) => String(v.expect.reason ?? '').includes(words));
  should(found).have.length(1);
  return found[0];
}

/** What a decoded device message carries, flattened into the fixture's `expect` words. */
function flatten(message: DeviceMessage): Record<string, unknown> {
  const body =
    'report' in message
      ? message.report
      : 'query' in message
        ? message.query
        : 'request' in message
          ? message.request
          : {};
  return Object.fromEntries(Object.entries(body).filter(([, value]) => value !== undefined));
}

/** Only the named fields of what a device sees (the fixture lists a few in each `deviceSees`). */
function picked(sees: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.map((key) => [key, sees[key]]));
}

function sees(reading: Reading): Record<string, unknown> {
  if (!reading.accepted) throw new Error(`the SDK drops it: ${reading.why}`);
  return reading.sees;
}

/**
 * The firmware a platform → device vector announces, as the platform knows it: it hashed the
 * package, so it also knows the md5 of a SHA256 single-file package.
 */
function firmwareOf(v: Vector): { id?: string | number; firmware?: FirmwareDescriptor } {
  const notice = parseUpgradeNotice(v.payload);
  if (notice.firmware && !notice.firmware.files && notice.firmware.size === fixture.examplePackage.size) {
    return { id: notice.id, firmware: { ...notice.firmware, md5: fixture.examplePackage.md5 } };
  }
  return notice;
}

/** Our message for the same topic and firmware as the vector. */
function ourMessage(v: Vector): MqttMessage {
  const device = parseTopic(v.topic);
  const { id, firmware } = firmwareOf(v);
  if (device.kind === 'firmwareGetReply') return firmwareReplyMessage(device, id, firmware);
  if (!firmware) throw new Error('a T2 always announces a firmware');
  if (device.kind === 'request') return requestReplyMessage(device, firmware, Number(id));
  return upgradeMessage(device, firmware, Number(id));
}

describe('the SDK fixture', function () {
  it('has the 57 vectors docs/sdk-shapes.md describes', function () {
    should(vectors).have.length(57);
    should(fromDevices.length + toDevices.length).eql(57);
  });
});

describe('decodeDeviceMessage on what the SDKs send', function () {
  for (const v of fromDevices) {
    it(`decodes vector ${v.index} (${v.sdk} ${v.topicKind}): ${v.payload}`, function () {
      const message = decodeDeviceMessage(v.topic, v.payload, EVERY_INBOUND);
      const { productKey, deviceName, desc, ...fields } = v.expect;
      should(message.kind).eql(v.topic.startsWith('/ota/device/request/') ? 'request' : v.topicKind);
      should(message.device).eql({
        productKey: productKey ?? DEVICE.productKey,
        deviceName: deviceName ?? DEVICE.deviceName,
      });
      should(flatten(message)).eql(desc === null || desc === undefined ? fields : { ...fields, desc });
    });
  }
});

describe('the SDK readers these tests use', function () {
  for (const v of notices) {
    it(`read vector ${v.index} (${v.sdk}, ${v.topicKind}) as the fixture says`, function () {
      const reading = readerFor(v.sdk)(v.payload, v.topic);
      should(reading.accepted).eql(v.expect.accepted);
      if (v.expect.deviceSees) should(picked(sees(reading), Object.keys(v.expect.deviceSees))).eql(v.expect.deviceSees);
    });
  }

  for (const v of blocks) {
    it(`read T7 vector ${v.index} as the fixture says`, function () {
      // The refused frames all answer a request for offset 0.
      const requested = v.expect.accepted ? Number(v.expect.bOffset) : 0;
      const reading = linkSdk4ReadsBlock(Buffer.from(v.payloadHex as string, 'hex'), requested);
      should(reading.accepted).eql(v.expect.accepted);
      if (reading.accepted) should({ ...picked(reading.sees, Object.keys(v.expect)), accepted: true }).eql(v.expect);
    });
  }
});

describe('what the SDKs read in our notices', function () {
  for (const v of notices.filter((n) => n.expect.accepted)) {
    it(`${v.sdk} reads our ${v.topicKind} for the firmware of vector ${v.index} as ${JSON.stringify(v.expect.deviceSees)}`, function () {
      const ours = ourMessage(v);
      should(ours.topic).eql(v.topic);
      const wanted = v.expect.deviceSees as Record<string, unknown>;
      should(picked(sees(readerFor(v.sdk)(ours.payload as string, ours.topic)), Object.keys(wanted))).eql(wanted);
    });
  }

  it('every SDK reads our notice for one firmware, and each finds what it compares against', function () {
    const firmware = parseFirmwareDescriptor({
      version: '1.0.1',
      size: 12,
      url: PACKAGE.url,
      signMethod: 'SHA256',
      sha256: PACKAGE.sha256,
      md5: PACKAGE.md5,
      module: 'MCU',
      extData: { info: 'batch-7' },
    });
    const { topic, payload } = upgradeMessage(DEVICE, firmware, 1617773607348);
    should(
      picked(sees(linkSdk4ReadsNotice(payload as string)), [
        'version',
        'size',
        'url',
        'digestMethod',
        'expectDigest',
        'module',
        'extraData',
      ]),
    ).eql({
      version: '1.0.1',
      size: 12,
      url: PACKAGE.url,
      digestMethod: 'SHA256',
      expectDigest: PACKAGE.sha256,
      module: 'MCU',
      extraData: '{"info":"batch-7"}',
    });
    should(sees(iotkit3ReadsNotice(payload as string, topic))).eql({
      version: '1.0.1',
      url: PACKAGE.url,
      md5: PACKAGE.md5,
      size: 12,
      module: 'MCU',
    });
    should(sees(pythonLinkkitReadsNotice(payload as string, topic))).eql({
      otaNoticeType: 1,
      version: '1.0.1',
      size: 12,
      url: PACKAGE.url,
      signMethod: 'SHA256',
      sign: PACKAGE.sha256,
      module: 'MCU',
      extra: "{'info': 'batch-7'}",
    });
  });

  it('Link SDK 4 sees exactly two files in our notice of two files with extData', function () {
    const firmware = parseFirmwareDescriptor({
      version: '1.0.3',
      signMethod: 'Md5',
      extData: { info: 'batch-7' },
      files: [
        { fileName: 'app.bin', fileSize: 12, fileUrl: PACKAGE.url, fileSign: PACKAGE.md5 },
        { fileName: 'res.bin', fileSize: 12, fileUrl: PACKAGE.url, fileSign: PACKAGE.md5 },
      ],
    });
    const reading = sees(linkSdk4ReadsNotice(upgradeMessage(DEVICE, firmware, 1).payload as string));
    should(picked(reading, ['fileNum', 'files', 'extraData'])).eql({
      fileNum: 2,
      files: ['app.bin', 'res.bin'],
      extraData: '{"info":"batch-7"}',
    });
  });

  it('Link SDK 4 sees no module in our notice for the default module', function () {
    const firmware = parseFirmwareDescriptor({
      version: '1.0.1',
      size: 12,
      url: PACKAGE.url,
      md5: PACKAGE.md5,
      extData: { info: 'MCU' },
    });
    should(sees(linkSdk4ReadsNotice(upgradeMessage(DEVICE, firmware, 1).payload as string)).module).be.null();
  });

  it('signMethod goes out as Md5, never MD5, which Link SDK 4 drops', function () {
    const v = refusedBecause('signMethod "MD5"');
    should(sees(linkSdk4ReadsNotice(ourMessage(v).payload as string)).digestMethod).eql('MD5');
  });

  it('notices go out as compact JSON, which Link SDK 4 needs', function () {
    const v = refusedBecause('whitespace after ":"');
    const ours = ourMessage(v).payload as string;
    should(ours).eql(JSON.stringify(JSON.parse(ours)));
    should(sees(linkSdk4ReadsNotice(ours)).version).eql('1.0.1');
  });

  it('a single file given as a one-entry files array goes out in the single-file form', function () {
    const v = refusedBecause('files[] with exactly one entry');
    should(
      picked(sees(linkSdk4ReadsNotice(ourMessage(v).payload as string)), ['version', 'size', 'url', 'expectDigest']),
    ).eql({
      version: '1.0.3',
      size: 12,
      url: PACKAGE.url,
      expectDigest: PACKAGE.md5,
    });
  });

  it('nothing pending is answered with data {}, which both Link SDK 4 and Python linkkit ignore', function () {
    for (const v of toDevices.filter((t) => String(t.expect.reason ?? '').startsWith('nothing pending'))) {
      should(ourMessage(v).payload).eql(v.payload);
    }
  });

  it('T2 always carries message "success", which iotkit 3.x requires', function () {
    const v = refusedBecause('no "message":"success"');
    should(sees(iotkit3ReadsNotice(ourMessage(v).payload as string, v.topic)).version).eql('1.0.1');
  });

  it('a SHA256 notice also carries the package md5, which iotkit 3.x requires', function () {
    const v = refusedBecause('SHA256 notice without data.md5');
    should(sees(iotkit3ReadsNotice(ourMessage(v).payload as string, v.topic)).md5).eql(PACKAGE.md5);
  });

  it('an md5 holding a SHA-256 digest is refused, and ours carries the real md5', function () {
    const v = refusedBecause('md5 value longer than 32 chars');
    should(() => parseUpgradeNotice(v.payload)).throw(refusal('msg.notice.data.md5', /32-character hex MD5/));
    const firmware = parseFirmwareDescriptor({
      version: '1.0.1',
      size: 12,
      url: PACKAGE.url,
      signMethod: 'SHA256',
      sign: PACKAGE.sha256,
      md5: PACKAGE.md5,
    });
    should(sees(iotkit3ReadsNotice(upgradeMessage(DEVICE, firmware, 1).payload as string, v.topic)).md5).eql(
      PACKAGE.md5,
    );
  });

  it('a notice for download over MQTT has no url, so Python linkkit devices need the https download', function () {
    const v = refusedBecause('no data.url (MQTT-download notice)');
    const ours = ourMessage(v).payload as string;
    should(JSON.parse(ours).data).not.have.property('url');
    should(pythonLinkkitReadsNotice(ours, v.topic)).match({ accepted: false });
    should(picked(sees(linkSdk4ReadsNotice(ours)), ['protocol', 'streamId', 'streamFileId'])).eql({
      protocol: 'MQTT',
      streamId: 1234567,
      streamFileId: 1,
    });
  });
});

describe('what Link SDK 4 reads in our T7 blocks', function () {
  for (const v of blocks.filter((b) => b.expect.accepted)) {
    it(`our block at offset ${v.expect.bOffset} is byte for byte the frame of vector ${v.index}`, function () {
      const header = JSON.parse(v.payload) as {
        id: string;
        data: { fileToken: string; fileLength: number; bSize: number; bOffset: number };
      };
      const block = PACKAGE.bytes.subarray(header.data.bOffset, header.data.bOffset + header.data.bSize);
      const ours = blockReplyMessage(
        DEVICE,
        {
          id: header.id,
          fileToken: header.data.fileToken,
          fileLength: header.data.fileLength,
          offset: header.data.bOffset,
        },
        block,
      );
      should(ours.topic).eql(v.topic);
      should((ours.payload as Buffer).toString('hex')).eql(v.payloadHex);
    });
  }

  it('the CRC goes low byte first: the high-byte-first frame is refused', function () {
    const v = refusedBecause('CRC written high byte first');
    should(() => parseBlockReply(Buffer.from(v.payloadHex as string, 'hex'))).throw(
      refusal('T7 CRC', 'T7 CRC must be 0xefd0, got "0xd0ef"'),
    );
    should(
      linkSdk4ReadsBlock(buildBlockReply({ id: '1', fileLength: 12, offset: 0 }, PACKAGE.bytes.subarray(0, 8)), 0),
    ).match({ accepted: true });
  });

  it('bOffset echoes the requested offset', function () {
    const v = refusedBecause('bOffset 4 != requested offset 0');
    should(parseBlockReply(Buffer.from(v.payloadHex as string, 'hex')).header.bOffset).eql(4);
    const ours = buildBlockReply({ id: '1', fileLength: 12, offset: 0 }, PACKAGE.bytes.subarray(0, 8));
    should(sees(linkSdk4ReadsBlock(ours, 0)).bOffset).eql(0);
  });

  it('the header is compact JSON, which Link SDK 4 needs', function () {
    const v = refusedBecause('pretty-printed header');
    const ours = buildBlockReply(
      { id: '1', fileToken: 'default', fileLength: 12, offset: 0 },
      PACKAGE.bytes.subarray(0, 8),
    );
    should(ours.toString('hex')).not.eql(v.payloadHex);
    should(sees(linkSdk4ReadsBlock(ours, 0)).code).eql(200);
  });
});
