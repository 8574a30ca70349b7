import fc from 'fast-check';
import should from 'should';
import { decodeJsonObject, isPlainObject, MAX_JSON_BYTES, stripTrailingCommas } from '../../src/protocol';
import { refusal } from './support';

/** A JSON object text of exactly `bytes` UTF-8 bytes. */
function jsonOfBytes(bytes: number): string {
  const shell = '{"pad":""}';
  return `{"pad":"${'x'.repeat(bytes - shell.length)}"}`;
}

describe('decodeJsonObject', function () {
  it('a JSON string becomes its object', function () {
    should(decodeJsonObject('{"id":1,"params":{"version":"1.0"}}')).eql({ id: 1, params: { version: '1.0' } });
  });

  it('a Buffer of UTF-8 JSON becomes its object', function () {
    should(decodeJsonObject(Buffer.from('{"desc":"Prüfsumme falsch"}'))).eql({ desc: 'Prüfsumme falsch' });
  });

  it('a plain Uint8Array is read like a Buffer', function () {
    should(decodeJsonObject(new TextEncoder().encode('{"a":1}'))).eql({ a: 1 });
  });

  it('an object already parsed by mqtt in is taken as it is', function () {
    const parsed = { id: 1, params: {} };
    should(decodeJsonObject(parsed)).equal(parsed);
  });

  it('a trailing comma, as Link SDK 4 puts after fileId, is accepted', function () {
    should(decodeJsonObject('{"fileInfo":{"streamId":1234567,"fileId":1,},"fileBlock":{"size":5120,"offset":0}}')).eql({
      fileInfo: { streamId: 1234567, fileId: 1 },
      fileBlock: { size: 5120, offset: 0 },
    });
  });

  it('a comma and brace inside a string survive the trailing-comma repair', function () {
    should(decodeJsonObject('{"desc":"a,}b","list":[1,2,],}')).eql({ desc: 'a,}b', list: [1, 2] });
  });

  it('a payload of exactly 64 KiB is accepted', function () {
    const text = jsonOfBytes(MAX_JSON_BYTES);
    should(Buffer.byteLength(text)).eql(65536);
    should(decodeJsonObject(Buffer.from(text))).have.property('pad');
    should(decodeJsonObject(text)).have.property('pad');
  });

  it('a Buffer over 64 KiB is refused before it is parsed', function () {
    const notEvenJson = Buffer.alloc(MAX_JSON_BYTES + 1, '{');
    should(() => decodeJsonObject(notEvenJson)).throw(
      refusal('msg.payload', 'msg.payload must be at most 65536 bytes of JSON, got a Buffer of 65537 bytes'),
    );
  });

  it('a string over 64 KiB is refused before it is parsed', function () {
    should(() => decodeJsonObject('{'.repeat(MAX_JSON_BYTES + 1))).throw(
      refusal('msg.payload', /^msg.payload must be at most 65536 bytes of JSON, got "/),
    );
  });

  it('a string under 64 Ki characters but over 64 KiB of UTF-8 is refused', function () {
    const text = `{"desc":"${'€'.repeat(30000)}"}`; // 30,012 characters, 90,012 bytes
    should(() => decodeJsonObject(text)).throw(
      refusal('msg.payload', /^msg.payload must be at most 65536 bytes of JSON/),
    );
  });

  it('invalid UTF-8 is refused', function () {
    should(() => decodeJsonObject(Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x7d]))).throw(
      refusal('msg.payload', 'msg.payload must be UTF-8 encoded JSON, got a Buffer of 5 bytes'),
    );
  });

  it('text that is not JSON is refused', function () {
    should(() => decodeJsonObject('version=1.0')).throw(
      refusal('msg.payload', 'msg.payload must be valid JSON, got "version=1.0"'),
    );
  });

  it('JSON that is still broken without its trailing commas is refused', function () {
    should(() => decodeJsonObject('{"a":1,,}')).throw(
      refusal('msg.payload', 'msg.payload must be valid JSON, got "{\\"a\\":1,,}"'),
    );
    should(() => decodeJsonObject('{"a":1,')).throw(refusal('msg.payload', /must be valid JSON/));
  });

  it('JSON that is not an object is refused', function () {
    should(() => decodeJsonObject('[1,2]')).throw(
      refusal('msg.payload', 'msg.payload must be a JSON object, got an array of 2 items'),
    );
    should(() => decodeJsonObject('"1.0"')).throw(
      refusal('msg.payload', 'msg.payload must be a JSON object, got "1.0"'),
    );
    should(() => decodeJsonObject('42')).throw(refusal('msg.payload', 'msg.payload must be a JSON object, got 42'));
    should(() => decodeJsonObject('null')).throw(refusal('msg.payload', 'msg.payload must be a JSON object, got null'));
  });

  it('a payload of another type is refused', function () {
    const rule = /^msg.payload must be a JSON object \(as a string, a Buffer or a parsed object\), got /;
    for (const payload of [42, undefined, null, [], true, new Date(0)]) {
      should(() => decodeJsonObject(payload)).throw(refusal('msg.payload', rule));
    }
  });

  it('refusals name the field it is given', function () {
    should(() => decodeJsonObject('x', 'msg.notice')).throw(
      refusal('msg.notice', 'msg.notice must be valid JSON, got "x"'),
    );
  });
});

describe('stripTrailingCommas', function () {
  it('removes a comma right before } or ]', function () {
    should(stripTrailingCommas('{"a":[1,2,],}')).eql('{"a":[1,2]}');
  });

  it('removes a comma separated from the bracket by whitespace, keeping the whitespace', function () {
    should(stripTrailingCommas('[1,\n  ]')).eql('[1\n  ]');
  });

  it('leaves commas and brackets inside strings alone, escaped quotes included', function () {
    const text = '{"a":",}","b":"\\",]"}';
    should(stripTrailingCommas(text)).eql(text);
  });

  it('removes only the last of two commas, so the text stays invalid', function () {
    should(stripTrailingCommas('[1,,]')).eql('[1,]');
  });

  it('never changes valid JSON, indented or not', function () {
    fc.assert(
      fc.property(fc.jsonValue(), fc.constantFrom(undefined, 0, 2, '\t'), (value, indent) => {
        const text = JSON.stringify(value, null, indent);
        return stripTrailingCommas(text) === text;
      }),
    );
  });

  it('turns an array with a trailing comma back into the same array', function () {
    fc.assert(
      fc.property(fc.array(fc.jsonValue(), { minLength: 1 }), (values) => {
        const text = `${JSON.stringify(values).slice(0, -1)},]`;
        should(JSON.parse(stripTrailingCommas(text))).eql(JSON.parse(JSON.stringify(values)));
      }),
    );
  });
});

describe('isPlainObject', function () {
  it('only plain objects count', function () {
    should([{}, Object.create(null), { a: 1 }].map(isPlainObject)).eql([true, true, true]);
    should([[], null, undefined, 'x', 1, Buffer.alloc(1), new Date(0), new (class Thing {})()].map(isPlainObject)).eql(
      Array(8).fill(false),
    );
  });
});

describe('objects from another realm', function () {
  it('an object built in a vm context (a function node) is a plain object', function () {
    const vm = require('node:vm') as typeof import('node:vm');
    const foreign = vm.runInNewContext('({ version: "1.0.0", size: 3 })');
    should(Object.getPrototypeOf(foreign) === Object.prototype).be.false();
    should(isPlainObject(foreign)).be.true();
    should(isPlainObject(vm.runInNewContext('new Map()'))).be.false();
    should(isPlainObject(vm.runInNewContext('[1]'))).be.false();
    should(isPlainObject(new (class Thing {})())).be.false();
  });
});
