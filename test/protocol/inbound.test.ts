import should from 'should';
import {
  buildTopic,
  buildUpgradeNotice,
  decodeDeviceMessage,
  InboundTopic,
  parseFirmwareDescriptor,
} from '../../src/protocol';
import { DEVICE, PACKAGE, refusal } from './support';

const EVERY_INBOUND: InboundTopic[] = ['inform', 'progress', 'firmwareGet', 'fileDownload', 'request'];

describe('decodeDeviceMessage', function () {
  it('decodes a T1 into the device and its version report', function () {
    should(
      decodeDeviceMessage(buildTopic('inform', DEVICE), '{"id":2, "params":{"version":"1.0.1","module":"MCU"}}', [
        'inform',
      ]),
    ).eql({
      kind: 'inform',
      device: DEVICE,
      report: { id: 2, version: '1.0.1', module: 'MCU' },
    });
  });

  it('decodes a T3 into the device and its progress report', function () {
    should(
      decodeDeviceMessage(
        buildTopic('progress', DEVICE),
        Buffer.from('{"id":0,"params":{"step":"-2","desc":""}}'),
        EVERY_INBOUND,
      ),
    ).eql({
      kind: 'progress',
      device: DEVICE,
      report: { id: 0, step: -2, desc: '', module: 'default' },
    });
  });

  it('decodes a T4 into the device and its query', function () {
    should(decodeDeviceMessage(buildTopic('firmwareGet', DEVICE), '{"id":19, "params":{}}', EVERY_INBOUND)).eql({
      kind: 'firmwareGet',
      device: DEVICE,
      query: { id: 19, module: 'default' },
    });
  });

  it('decodes a T6 into the device and its block request', function () {
    const payload =
      '{"id":"2","version":"1.0","params":{"fileToken":"default","fileInfo":{"streamId":1234567,"fileId":1,},"fileBlock":{"size":4,"offset":8}}}';
    should(decodeDeviceMessage(buildTopic('fileDownload', DEVICE), payload, EVERY_INBOUND)).eql({
      kind: 'fileDownload',
      device: DEVICE,
      request: { id: '2', streamId: 1234567, fileId: 1, size: 4, offset: 8, fileToken: 'default' },
    });
  });

  it("decodes iotkit 3.x's request on T8 into the device and its current version", function () {
    should(
      decodeDeviceMessage(buildTopic('request', DEVICE), '{"id":0,"params":{"version":"1.0.0"}}', EVERY_INBOUND),
    ).eql({
      kind: 'request',
      device: DEVICE,
      report: { id: 0, version: '1.0.0', module: 'default' },
    });
  });

  it("recognises the platform's own answer heard back on T8", function () {
    const answer = buildUpgradeNotice(
      parseFirmwareDescriptor({ version: '1.0.1', size: 12, url: PACKAGE.url, md5: PACKAGE.md5 }),
      1617773607348,
    );
    should(decodeDeviceMessage(buildTopic('request', DEVICE), answer, ['request'])).eql({
      kind: 'platformEcho',
      device: DEVICE,
    });
  });

  it('takes the device from the topic, never from the payload', function () {
    const payload = JSON.stringify({ id: 1, productKey: 'other', deviceName: 'other', params: { version: '1.0' } });
    should(decodeDeviceMessage(buildTopic('inform', DEVICE), payload, ['inform']).device).eql(DEVICE);
  });

  it('refuses a topic of a kind the node does not take, naming the ones it does', function () {
    should(() => decodeDeviceMessage(buildTopic('progress', DEVICE), '{"params":{"step":"1"}}', ['inform'])).throw(
      refusal(
        'msg.topic',
        'msg.topic must be T1 /ota/device/inform/${pk}/${dn}, got "/ota/device/progress/a1B2c3D4e5F/dev-001"',
      ),
    );
  });

  it('refuses a platform → device topic', function () {
    should(() => decodeDeviceMessage(buildTopic('upgrade', DEVICE), '{}', EVERY_INBOUND)).throw(
      refusal('msg.topic', /^msg.topic must be T1 .* or T8 /),
    );
  });

  it('refuses a bad payload with the field and rule it breaks', function () {
    should(() =>
      decodeDeviceMessage(buildTopic('progress', DEVICE), '{"id":1,"params":{"step":"abc"}}', ['progress']),
    ).throw(refusal('params.step', 'params.step must be an integer from -4 to 100, got "abc"'));
  });
});
