import fc from 'fast-check';
import should from 'should';
import {
  blockReplyMessage,
  buildBlockReply,
  buildFirmwareReply,
  buildUpgradeNotice,
  firmwareReplyMessage,
  noticeIdSource,
  parseFirmwareDescriptor,
  progressReportMessage,
  requestReplyMessage,
  upgradeMessage,
  versionReportMessage,
} from '../../src/protocol';
import { DEVICE, PACKAGE, refusal } from './support';

const FIRMWARE = parseFirmwareDescriptor({
  version: '1.0.1',
  size: 12,
  url: PACKAGE.url,
  md5: PACKAGE.md5,
  module: 'MCU',
});

describe('upgradeMessage', function () {
  it("is the T2 notice on the device's upgrade topic at QoS 1", function () {
    should(upgradeMessage(DEVICE, FIRMWARE, 1617773607348)).eql({
      topic: '/ota/device/upgrade/a1B2c3D4e5F/dev-001',
      payload: buildUpgradeNotice(FIRMWARE, 1617773607348),
      qos: 1,
    });
  });

  it('refuses a device name that is not one topic level, before building anything', function () {
    should(() => upgradeMessage({ productKey: 'pk', deviceName: 'dev/+' }, FIRMWARE, 1)).throw(
      refusal('deviceName', /one MQTT topic level/),
    );
  });
});

describe('requestReplyMessage', function () {
  it("is a T2-shaped notice on iotkit 3.x's request topic at QoS 1", function () {
    should(requestReplyMessage(DEVICE, FIRMWARE, 5)).eql({
      topic: '/ota/device/request/a1B2c3D4e5F/dev-001',
      payload: buildUpgradeNotice(FIRMWARE, 5),
      qos: 1,
    });
  });
});

describe('firmwareReplyMessage', function () {
  it('is the T5 answer on the get_reply topic at QoS 1', function () {
    should(firmwareReplyMessage(DEVICE, 19, FIRMWARE)).eql({
      topic: '/sys/a1B2c3D4e5F/dev-001/thing/ota/firmware/get_reply',
      payload: buildFirmwareReply(19, FIRMWARE),
      qos: 1,
    });
  });

  it('answers data {} when nothing is pending', function () {
    should(firmwareReplyMessage(DEVICE, 19).payload).eql('{"id":19,"code":200,"data":{}}');
  });
});

describe('blockReplyMessage', function () {
  it('is the binary T7 frame on the download_reply topic at QoS 0', function () {
    const header = { id: '1', fileLength: 12, offset: 0 };
    should(blockReplyMessage(DEVICE, header, PACKAGE.bytes.subarray(0, 8))).eql({
      topic: '/sys/a1B2c3D4e5F/dev-001/thing/file/download_reply',
      payload: buildBlockReply(header, PACKAGE.bytes.subarray(0, 8)),
      qos: 0,
    });
  });
});

describe('versionReportMessage', function () {
  it("is T1 on the device's inform topic", function () {
    should(versionReportMessage(DEVICE, { version: '1-45-345a' })).eql({
      topic: '/ota/device/inform/a1B2c3D4e5F/dev-001',
      payload: '{"id":1,"params":{"version":"1-45-345a"}}',
      qos: 1,
    });
  });
});

describe('progressReportMessage', function () {
  it("is T3 on the device's progress topic", function () {
    should(progressReportMessage(DEVICE, { step: -3, desc: 'md5 mismatch', module: 'MCU' })).eql({
      topic: '/ota/device/progress/a1B2c3D4e5F/dev-001',
      payload: '{"id":1,"params":{"step":"-3","desc":"md5 mismatch","module":"MCU"}}',
      qos: 1,
    });
  });
});

describe('noticeIdSource', function () {
  it("gives the clock's millisecond timestamp", function () {
    should(noticeIdSource(() => 1617773607348)()).eql(1617773607348);
  });

  it('gives strictly increasing ids to notices within one millisecond', function () {
    const next = noticeIdSource(() => 1000);
    should([next(), next(), next()]).eql([1000, 1001, 1002]);
  });

  it('follows the clock again once it has moved past the last id', function () {
    const readings = [1000, 1000, 5000];
    const next = noticeIdSource(() => readings.shift() as number);
    should([next(), next(), next()]).eql([1000, 1001, 5000]);
  });

  it('keeps increasing when the clock goes back', function () {
    const readings = [5000, 4000];
    const next = noticeIdSource(() => readings.shift() as number);
    should([next(), next()]).eql([5000, 5001]);
  });

  it('never gives an id twice nor one below the clock, whatever the clock does', function () {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 2 ** 42 }), { minLength: 1, maxLength: 50 }), (readings) => {
        const clock = [...readings];
        const next = noticeIdSource(() => clock.shift() as number);
        const ids = readings.map(() => next());
        ids.forEach((id, i) => {
          should(id).be.aboveOrEqual(readings[i]);
          if (i > 0) should(id).be.above(ids[i - 1]);
        });
      }),
    );
  });
});
