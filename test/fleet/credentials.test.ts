/**
 * The device registry's input (src/fleet/credentials.ts): JSON arrays and CSV as Alibaba's batch
 * registration exports it, and refusals that name the row and the rule, never a cell's value.
 */
import should from 'should';
import { FleetError, parseCredentials } from '../../src/fleet';

const DEV1 = { productKey: 'a1BwAGV2x3K', deviceName: 'dev-1', deviceSecret: 'b4d43f7c9a0e4bd2b8e1f10ba5e5c3d1' };
const DEV2 = { productKey: 'a1BwAGV2x3K', deviceName: 'dev@2:x.y', deviceSecret: 'Zx-9_@.:!~' };

/** The refusal of a body: its status and text. */
function refusal(body: unknown): { status: number; message: string } {
  try {
    parseCredentials(body);
  } catch (err) {
    should(err).be.instanceOf(FleetError);
    return { status: (err as FleetError).status, message: (err as Error).message };
  }
  throw new Error('the body was accepted');
}

describe('device credentials: the registration body', function () {
  describe('JSON', function () {
    it('an array of {productKey, deviceName, deviceSecret} gives those devices', function () {
      should(parseCredentials([DEV1, DEV2])).eql([DEV1, DEV2]);
    });

    it('extra properties of an entry are left out', function () {
      should(parseCredentials([{ ...DEV1, iotId: 'x', nickname: 'lab' }])).eql([DEV1]);
    });

    it('an entry that is not an object is refused by its row number', function () {
      should(refusal([DEV1, 'dev-2'])).eql({
        status: 422,
        message: 'row 2: must be an object {productKey, deviceName, deviceSecret}',
      });
    });

    it('a missing deviceSecret is refused by its row number', function () {
      should(refusal([DEV1, { productKey: 'pk1', deviceName: 'dev-2' }]).message).equal(
        'row 2: deviceSecret is missing',
      );
    });

    it('an object that is not an array is refused with the two shapes accepted', function () {
      should(refusal({ devices: [DEV1] })).eql({
        status: 422,
        message:
          'send the devices as a JSON array of {productKey, deviceName, deviceSecret}, or as CSV text (Content-Type: text/csv) with those three columns',
      });
    });

    it('an empty array is refused', function () {
      should(refusal([]).message).equal('the request lists no devices');
    });
  });

  describe('CSV', function () {
    it('with the header of an Alibaba export gives its devices', function () {
      should(parseCredentials(`ProductKey,DeviceName,DeviceSecret\n${csv(DEV1)}\n${csv(DEV2)}\n`)).eql([DEV1, DEV2]);
    });

    it('the header may be in any case, with underscores or spaces, and in any column order', function () {
      should(
        parseCredentials(
          `device_secret,PRODUCTKEY,Device Name\n${DEV1.deviceSecret},${DEV1.productKey},${DEV1.deviceName}`,
        ),
      ).eql([DEV1]);
    });

    it('with a header, further columns (IotId, Nickname) are ignored', function () {
      should(parseCredentials(`ProductKey,DeviceName,DeviceSecret,IotId\n${csv(DEV1)},Xq2fH0001\n`)).eql([DEV1]);
    });

    it('without a header every row is productKey,deviceName,deviceSecret', function () {
      should(parseCredentials(`${csv(DEV1)}\n${csv(DEV2)}`)).eql([DEV1, DEV2]);
    });

    it('CRLF line ends, a UTF-8 byte order mark and blank lines are read as Excel writes them', function () {
      should(parseCredentials(`\uFEFFProductKey,DeviceName,DeviceSecret\r\n${csv(DEV1)}\r\n\r\n${csv(DEV2)}\r\n`)).eql([
        DEV1,
        DEV2,
      ]);
    });

    it('a Buffer is read as UTF-8 text', function () {
      should(parseCredentials(Buffer.from(`\uFEFF${csv(DEV1)}\r\n`))).eql([DEV1]);
    });

    it('quoted fields may hold commas and doubled quotes', function () {
      const odd = { productKey: 'pk,1', deviceName: 'dev "one"', deviceSecret: 'se,"cr"et' };
      should(
        parseCredentials(
          `"pk,1","dev ""one""","se,""cr""et"\r\n"${DEV1.productKey}",${DEV1.deviceName},"${DEV1.deviceSecret}"`,
        ),
      ).eql([odd, DEV1]);
    });

    it('a row is refused by its line in the file, counting the header', function () {
      should(refusal(`ProductKey,DeviceName,DeviceSecret\n${csv(DEV1)}\npk1,a/b,secret`)).eql({
        status: 422,
        message: 'row 3: deviceName must be one MQTT topic level (no "/", "+", "#" or NUL; found "/")',
      });
    });

    it('a quoted field over two lines counts both, so later rows keep their line numbers', function () {
      should(refusal(`"pk1","dev\n1",secret1\npk1,dev2,\n`).message).equal('row 3: deviceSecret is missing');
    });

    it('a row without a header that has not three columns is refused with the order expected', function () {
      should(refusal(`${csv(DEV1)}\npk1,dev2`).message).equal(
        'row 2: has 2 columns; without a header row each row is productKey,deviceName,deviceSecret',
      );
    });

    it('a header without the secret column is refused', function () {
      should(refusal('ProductKey,DeviceName\npk1,dev1').message).equal('row 1: the header has no deviceSecret column');
    });

    it('a quoted field never closed is refused with where it opened', function () {
      should(refusal(`${csv(DEV1)}\npk1,"dev2,secret\n`).message).equal(
        'row 2: the quoted field opened on line 2 is never closed',
      );
    });
  });

  describe('the rules every row must keep', function () {
    it('a secret with a space, a control character, non-ASCII or over 128 characters is refused without showing it', function () {
      for (const secret of ['has space', 'tab\there', 'ünïcode', 'x'.repeat(129)]) {
        const r = refusal([{ ...DEV1, deviceSecret: secret }]);
        should(r).eql({
          status: 422,
          message: 'row 1: deviceSecret must be 1 to 128 printable ASCII characters without spaces',
        });
      }
      should(parseCredentials([{ ...DEV1, deviceSecret: 'x'.repeat(128) }])).have.length(1);
    });

    it('a productKey that is not one topic level is refused, and the refusal never quotes the cell', function () {
      const r = refusal([DEV1, { ...DEV2, productKey: 'secret-in-the-wrong-column/x' }]);
      should(r.message).equal('row 2: productKey must be one MQTT topic level (no "/", "+", "#" or NUL; found "/")');
    });

    it('an empty or over-long device name is refused', function () {
      should(refusal([{ ...DEV1, deviceName: '' }]).message).equal('row 1: deviceName is missing');
      should(refusal([{ ...DEV1, deviceName: 'd'.repeat(65) }]).message).equal(
        'row 1: deviceName must be at most 64 characters',
      );
    });

    it('a device listed twice in one request is refused with both rows', function () {
      should(refusal(`${csv(DEV1)}\n${csv(DEV2)}\n${csv(DEV1)}`).message).equal(
        `row 3: ${DEV1.productKey}/${DEV1.deviceName} is also on row 1; list each device once`,
      );
    });
  });
});

function csv(d: { productKey: string; deviceName: string; deviceSecret: string }): string {
  return `${d.productKey},${d.deviceName},${d.deviceSecret}`;
}
