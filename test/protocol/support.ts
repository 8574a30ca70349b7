/** Shared by the codec tests: how a refusal is asserted, and the example package and device of the SDK fixture. */

/** What a refused message looks like to `should(fn).throw(…)`: a ProtocolError naming the field, with the rule in its message. */
export function refusal(
  field: string,
  message: string | RegExp,
): { name: string; field: string; message: string | RegExp } {
  return { name: 'ProtocolError', field, message };
}

/** The example package of test/fixtures/sdk-shapes.json: "hello world!". */
export const PACKAGE = {
  bytes: Buffer.from('hello world!'),
  size: 12,
  md5: 'fc3ff98e8c6a0d3087d515c0473f8677',
  sha256: '7509e5bda0c762d2bac7f90d758b5b2263fa01ccbc542ab5e3df163be08e6ca9',
  url: 'https://ota.example.com/fw/MCU-1.0.1.bin?Expires=1700000000&Signature=abc123',
};

export const DEVICE = { productKey: 'a1B2c3D4e5F', deviceName: 'dev-001' };
