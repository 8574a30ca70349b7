import should from 'should';
import {
  checkInteger,
  checkLabel,
  checkModule,
  checkOptionalText,
  DEFAULT_MODULE,
  readId,
  readObject,
  readOptionalObject,
} from '../../src/protocol';
import { refusal } from './support';

describe('readId', function () {
  it('a numeric id is kept as a number', function () {
    should(readId({ id: 7 })).eql(7);
  });

  it('a string id is kept as a string', function () {
    should(readId({ id: '123' })).eql('123');
  });

  it('an id of 0 is an id, not a missing one (iotkit 3.x always sends 0)', function () {
    should(readId({ id: 0 })).eql(0);
  });

  it('an absent or null id is no id', function () {
    should([readId({}), readId({ id: null })]).eql([undefined, undefined]);
  });

  it('an id that is neither a number nor a short string is refused', function () {
    should(() => readId({ id: true })).throw(
      refusal('id', 'id must be a number or a string of up to 64 characters, got true'),
    );
    should(() => readId({ id: 'x'.repeat(65) })).throw(
      refusal('id', /^id must be a number or a string of up to 64 characters/),
    );
    should(() => readId({ id: { n: 1 } }, 'msg.notice.id')).throw(refusal('msg.notice.id', /got an object$/));
  });
});

describe('readObject', function () {
  it('returns the object under the key', function () {
    should(readObject({ params: { a: 1 } }, 'params', 'params')).eql({ a: 1 });
  });

  it('a missing object is required', function () {
    should(() => readObject({}, 'params', 'params')).throw(refusal('params', 'params is required: an object'));
  });

  it('something else than an object is refused', function () {
    should(() => readObject({ params: [1] }, 'params', 'params')).throw(
      refusal('params', 'params must be an object, got an array of 1 items'),
    );
  });
});

describe('readOptionalObject', function () {
  it('an absent or null object is undefined', function () {
    should([readOptionalObject({}, 'p', 'p'), readOptionalObject({ p: null }, 'p', 'p')]).eql([undefined, undefined]);
  });

  it('something else than an object is refused', function () {
    should(() => readOptionalObject({ p: 'x' }, 'p', 'params')).throw(
      refusal('params', 'params must be an object, got "x"'),
    );
  });
});

describe('checkLabel', function () {
  it('any printable text of 1 to 64 characters is kept as is', function () {
    for (const label of ['1.0.0', '1-45-345a', 'res-1.2.5', 'v 2 (beta)', '版本-1.0', 'x'.repeat(64)]) {
      should(checkLabel('version', label)).eql(label);
    }
  });

  it('a missing label is required', function () {
    should(() => checkLabel('version', undefined)).throw(
      refusal('version', 'version is required: a non-empty string of up to 64 printable characters'),
    );
  });

  it('an empty, too long, control-character or broken-Unicode label is refused', function () {
    should(() => checkLabel('version', '')).throw(
      refusal('version', 'version must be a non-empty string, got an empty string'),
    );
    should(() => checkLabel('version', 'x'.repeat(65))).throw(
      refusal('version', /^version must be at most 64 characters, got "x{40}… \(65 chars\)"$/),
    );
    should(() => checkLabel('version', '1.0\n')).throw(
      refusal('version', 'version must be printable text (no control characters), got "1.0\\n"'),
    );
    should(() => checkLabel('version', '1.0\u0085')).throw(refusal('version', /printable text/));
    should(() => checkLabel('version', '1.0\ud800')).throw(refusal('version', /printable text/));
  });

  it('a label that is not a string is refused', function () {
    should(() => checkLabel('version', 1.1)).throw(refusal('version', 'version must be a string, got 1.1'));
  });
});

describe('checkModule', function () {
  it('absent, null, empty and "default" all mean the module default', function () {
    should([undefined, null, '', 'default'].map((m) => checkModule('module', m))).eql([
      DEFAULT_MODULE,
      'default',
      'default',
      'default',
    ]);
  });

  it('a named module is kept', function () {
    should(checkModule('module', 'MCU')).eql('MCU');
  });

  it('a module that is not a label is refused', function () {
    should(() => checkModule('params.module', 7)).throw(
      refusal('params.module', 'params.module must be a string, got 7'),
    );
  });
});

describe('checkInteger', function () {
  it('an integer arrives as a number or a decimal string', function () {
    should([checkInteger('n', 23, 0, 100), checkInteger('n', '23', 0, 100), checkInteger('n', '-1', -4, 100)]).eql([
      23, 23, -1,
    ]);
  });

  it('the bounds are inclusive', function () {
    should([checkInteger('n', -4, -4, 100), checkInteger('n', 100, -4, 100)]).eql([-4, 100]);
  });

  it('a fraction, a non-number or a value out of bounds is refused with the range', function () {
    for (const value of [1.5, '1.5', 'abc', '', '1e2', true, 101, -5]) {
      should(() => checkInteger('n', value, -4, 100)).throw(refusal('n', /^n must be an integer from -4 to 100, got /));
    }
  });

  it('a missing integer is required', function () {
    should(() => checkInteger('n', undefined, -4, 100)).throw(refusal('n', 'n is required: an integer from -4 to 100'));
  });
});

describe('checkOptionalText', function () {
  it('text is kept and absence is undefined', function () {
    should([
      checkOptionalText('desc', ' x '),
      checkOptionalText('desc', undefined),
      checkOptionalText('desc', null),
    ]).eql([' x ', undefined, undefined]);
  });

  it('text over the limit, broken Unicode or a non-string is refused', function () {
    should(() => checkOptionalText('desc', 'x'.repeat(11), 10)).throw(
      refusal('desc', /^desc must be at most 10 characters/),
    );
    should(() => checkOptionalText('desc', '\udc00')).throw(refusal('desc', /^desc must be valid Unicode text/));
    should(() => checkOptionalText('desc', 5)).throw(refusal('desc', 'desc must be a string, got 5'));
  });
});
