import should from 'should';
import { describe as describeValue, ProtocolError, required } from '../../src/protocol';

describe('ProtocolError', function () {
  it('names the field, the rule and what came', function () {
    const err = new ProtocolError('params.step', 'an integer from -4 to 100', 'abc');
    should(err).match({
      name: 'ProtocolError',
      code: 'OTA_BAD_MESSAGE',
      field: 'params.step',
      expected: 'an integer from -4 to 100',
      got: 'abc',
      absent: false,
      message: 'params.step must be an integer from -4 to 100, got "abc"',
    });
    should(err).be.instanceOf(Error);
  });

  it('says a missing field is required', function () {
    should(new ProtocolError('params', 'an object', undefined, true).message).eql('params is required: an object');
  });
});

describe('required', function () {
  it('throws the ProtocolError of a missing field', function () {
    should(() => required('params.version', 'a string')).throw({
      name: 'ProtocolError',
      field: 'params.version',
      absent: true,
      message: 'params.version is required: a string',
    });
  });
});

describe('describe', function () {
  it('renders each kind of value short and safe', function () {
    should(
      [undefined, null, Buffer.alloc(3), [1, 2], '', 'abc', 42, true, 10n, {}, () => 1, Symbol('s')].map(describeValue),
    ).eql([
      'nothing',
      'null',
      'a Buffer of 3 bytes',
      'an array of 2 items',
      'an empty string',
      '"abc"',
      '42',
      'true',
      '10',
      'an object',
      'a function',
      'a symbol',
    ]);
  });

  it('clips a long string to 40 characters and says how long it was', function () {
    should(describeValue('x'.repeat(100))).eql(`"${'x'.repeat(40)}… (100 chars)"`);
  });
});
