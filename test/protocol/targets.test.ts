import should from 'should';
import { MAX_DIRECT_DEVICES, readDeviceList } from '../../src/protocol';
import { refusal } from './support';

describe('readDeviceList', function () {
  it('reads one device from productKey and deviceName', function () {
    should(readDeviceList({ productKey: 'pk1', deviceName: 'dev1' })).eql([{ productKey: 'pk1', deviceName: 'dev1' }]);
  });

  it("reads a list of names that share the message's product key", function () {
    should(readDeviceList({ productKey: 'pk1', devices: ['dev1', 'dev2'] })).eql([
      { productKey: 'pk1', deviceName: 'dev1' },
      { productKey: 'pk1', deviceName: 'dev2' },
    ]);
  });

  it('reads a list of objects, each with its own product key', function () {
    should(
      readDeviceList({
        devices: [
          { productKey: 'pk1', deviceName: 'dev1' },
          { productKey: 'pk2', deviceName: 'dev1' },
        ],
      }),
    ).eql([
      { productKey: 'pk1', deviceName: 'dev1' },
      { productKey: 'pk2', deviceName: 'dev1' },
    ]);
  });

  it("gives an object without a product key the message's one, and mixes names and objects", function () {
    should(readDeviceList({ productKey: 'pk1', devices: [{ deviceName: 'dev1' }, 'dev2'] })).eql([
      { productKey: 'pk1', deviceName: 'dev1' },
      { productKey: 'pk1', deviceName: 'dev2' },
    ]);
  });

  it('drops duplicates, keeping the first', function () {
    should(
      readDeviceList({
        productKey: 'pk1',
        devices: ['dev2', 'dev1', { productKey: 'pk1', deviceName: 'dev2' }, 'dev1'],
      }),
    ).eql([
      { productKey: 'pk1', deviceName: 'dev2' },
      { productKey: 'pk1', deviceName: 'dev1' },
    ]);
  });

  it('prefers the list to a single deviceName', function () {
    should(readDeviceList({ productKey: 'pk1', deviceName: 'dev9', devices: ['dev1'] })).eql([
      { productKey: 'pk1', deviceName: 'dev1' },
    ]);
  });

  it('falls back to the single device when devices is null', function () {
    should(readDeviceList({ productKey: 'pk1', deviceName: 'dev1', devices: null })).eql([
      { productKey: 'pk1', deviceName: 'dev1' },
    ]);
  });

  it('refuses the whole list for one bad name', function () {
    should(() => readDeviceList({ productKey: 'pk1', devices: ['dev1', 'dev+2', 'dev3'] })).throw(
      refusal(
        'msg.devices[1]',
        'msg.devices[1] must be one MQTT topic level (no "/", "+", "#" or NUL; found "+"), got "dev+2"',
      ),
    );
  });

  it('refuses the whole list for one bad object', function () {
    should(() =>
      readDeviceList({
        devices: [
          { productKey: 'pk1', deviceName: 'dev1' },
          { productKey: 'pk/1', deviceName: 'dev2' },
        ],
      }),
    ).throw(refusal('msg.devices[1].productKey', /one MQTT topic level/));
  });

  it('refuses names without a product key to go with them', function () {
    should(() => readDeviceList({ devices: ['dev1'] })).throw(
      refusal(
        'msg.productKey (for msg.devices[0])',
        'msg.productKey (for msg.devices[0]) is required: a non-empty string of up to 64 characters',
      ),
    );
  });

  it('refuses an entry that is neither a name nor an object', function () {
    should(() => readDeviceList({ productKey: 'pk1', devices: ['dev1', 7] })).throw(
      refusal('msg.devices[1]', 'msg.devices[1] must be a device name or {productKey, deviceName}, got 7'),
    );
    should(() => readDeviceList({ productKey: 'pk1', devices: [null] })).throw(refusal('msg.devices[0]', /got null$/));
  });

  it('refuses an empty list, a list too long, or something that is not a list', function () {
    const rule =
      /^msg.devices must be an array of 1 to 100000 device names or \{productKey, deviceName\} objects, got /;
    should(() => readDeviceList({ productKey: 'pk1', devices: [] })).throw(refusal('msg.devices', rule));
    should(() => readDeviceList({ productKey: 'pk1', devices: 'dev1' })).throw(refusal('msg.devices', rule));
    should(() => readDeviceList({ productKey: 'pk1', devices: Array(MAX_DIRECT_DEVICES + 1).fill('d') })).throw(
      refusal('msg.devices', rule),
    );
  });

  it('refuses a message with neither a device nor a list', function () {
    should(() => readDeviceList({ productKey: 'pk1' })).throw(
      refusal('msg.deviceName', 'msg.deviceName is required: set, or a list in msg.devices'),
    );
  });

  it('names fields with the prefix it is given', function () {
    should(() => readDeviceList({ productKey: 'pk1', deviceName: '#' }, 'msg.payload.')).throw(
      refusal('msg.payload.deviceName', /one MQTT topic level/),
    );
  });
});
