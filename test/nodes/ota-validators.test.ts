/**
 * The edit dialogs' shared checks (resources/ota-validators.js), run as the browser runs the
 * file: a script on a page whose `window` it adds MqttOta.validators to.
 */
import fs from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';
import should from 'should';

const FILE = path.resolve(__dirname, '../../../resources/ota-validators.js');

interface Validators {
  isPrintable(v: string): boolean;
  isTopicLevel(v: string): boolean;
  isLabel(v: string): boolean;
  isWholeNumberIn(v: string | number, min: number, max: number): boolean;
  isPositiveNumber(v: string | number): boolean;
  isHttpUrl(v: string): boolean;
  isEd25519PublicKey(v: string): boolean;
  isStringMapJson(v: string): boolean;
  isDeviceNameList(v: string, max: number): boolean;
}

/** A fresh page: the script run in its own global, as a <script src> runs. */
function loadPage(existing: Record<string, unknown> = {}): { MqttOta: Record<string, unknown> } {
  const window: Record<string, unknown> = { ...existing };
  vm.runInNewContext(fs.readFileSync(FILE, 'utf8'), { window }, { filename: FILE });
  return window as { MqttOta: Record<string, unknown> };
}

const check = loadPage().MqttOta.validators as Validators;
const PUBLIC_KEY = 'MCowBQYDK2VwAyEA' + 'A'.repeat(43) + '=';

describe('the editor validators', function () {
  it('are on window.MqttOta.validators, frozen, beside what the namespace already holds', function () {
    const page = loadPage({ MqttOta: { other: 1 } });
    should(page.MqttOta.other).equal(1);
    should(Object.isFrozen(page.MqttOta.validators)).be.true();
  });

  it('a topic level is 1 to 64 characters without /, +, # or NUL', function () {
    should(['dev-001', 'a1B2c3D4e5F', 'x'.repeat(64), '设备'].map(check.isTopicLevel)).eql([true, true, true, true]);
    should(['', 'a/b', 'a+b', 'a#', 'a\0b', 'x'.repeat(65)].map(check.isTopicLevel)).eql(Array(6).fill(false));
  });

  it('a label is 1 to 64 printable characters: no C0 or C1 control character', function () {
    should(['1.0.1', 'MCU', 'v2 (夜间构建)'].map(check.isLabel)).eql([true, true, true]);
    should(['', '1.0\n', '1.0\u0085', 'x'.repeat(65)].map(check.isLabel)).eql([false, false, false, false]);
  });

  it('a whole number must be digits within its bounds', function () {
    should(['1', ' 720 ', 24].map((v) => check.isWholeNumberIn(v, 1, 720))).eql([true, true, true]);
    should(['0', '721', '1.5', '-1', '', 'abc'].map((v) => check.isWholeNumberIn(v, 1, 720))).eql(Array(6).fill(false));
  });

  it('a size must be a number above 0', function () {
    should(['1000', '0.5', 3].map(check.isPositiveNumber)).eql([true, true, true]);
    should(['0', '-1', '', ' ', 'many'].map(check.isPositiveNumber)).eql(Array(5).fill(false));
  });

  it('a public URL is http(s) with a host, without query or fragment', function () {
    should(['http://192.168.1.10:1880', 'https://ota.example.com/base/'].map(check.isHttpUrl)).eql([true, true]);
    should(['ftp://x', 'http://', 'http://h/?q=1', 'http://h/#f', 'h:1880'].map(check.isHttpUrl)).eql(
      Array(5).fill(false),
    );
  });

  it('an Ed25519 public key is its 60-character base64 SPKI DER', function () {
    should(check.isEd25519PublicKey(PUBLIC_KEY)).be.true();
    should(check.isEd25519PublicKey(PUBLIC_KEY.slice(1))).be.false();
    should(check.isEd25519PublicKey('MCowBQYDK2VwAyEB' + 'A'.repeat(43) + '=')).be.false();
  });

  it('extData is the JSON of an object whose values are strings', function () {
    should(['{}', '{"info":"night build"}'].map(check.isStringMapJson)).eql([true, true]);
    should(['{"n":1}', '[]', 'null', '"x"', '{'].map(check.isStringMapJson)).eql(Array(5).fill(false));
  });

  it('test devices are at most the given number of topic levels, comma separated', function () {
    should(check.isDeviceNameList('dev1, dev2', 10)).be.true();
    should(check.isDeviceNameList(Array(10).fill('d').join(','), 10)).be.true();
    should(check.isDeviceNameList(Array(11).fill('d').join(','), 10)).be.false();
    should(check.isDeviceNameList('dev1, a/b', 10)).be.false();
    should(check.isDeviceNameList('dev1,,dev2', 10)).be.false();
  });
});
