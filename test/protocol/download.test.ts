import fc from 'fast-check';
import should from 'should';
import { buildBlockReply, crc16arc, parseBlockReply } from '../../src/protocol';
import { crcIbm } from './sdk-readers';
import { PACKAGE, refusal } from './support';

const FIRST_BLOCK = PACKAGE.bytes.subarray(0, 8); // "hello wo"
const FIRST_HEADER =
  '{"id":"1","code":200,"msg":"success","data":{"fileToken":"default","fileLength":12,"bSize":8,"bOffset":0}}';

/** A frame made by hand: big-endian header length, header text, block, then the two CRC bytes as given. */
function frameOf(header: string, block: Buffer, crc: number[]): Buffer {
  const head = Buffer.from(header);
  return Buffer.concat([Buffer.from([head.length >> 8, head.length & 0xff]), head, block, Buffer.from(crc)]);
}

describe('crc16arc', function () {
  it('has the CRC-16/ARC check value 0xBB3D for "123456789"', function () {
    should(crc16arc(Buffer.from('123456789'))).eql(0xbb3d);
  });

  it('is 0 for no bytes', function () {
    should(crc16arc(Buffer.alloc(0))).eql(0);
  });

  it("agrees with Link SDK 4's crc_ibm on any bytes", function () {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => crc16arc(bytes) === crcIbm(bytes)));
  });

  it('leaves no remainder once its own value is appended low byte first', function () {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const crc = crc16arc(bytes);
        return crc16arc(Buffer.concat([bytes, Buffer.from([crc & 0xff, crc >> 8])])) === 0;
      }),
    );
  });
});

describe('buildBlockReply', function () {
  const frame = buildBlockReply({ id: '1', fileToken: 'default', fileLength: 12, offset: 0 }, FIRST_BLOCK);

  it('starts with the header length, big-endian', function () {
    should(frame.readUInt16BE(0)).eql(Buffer.byteLength(FIRST_HEADER));
  });

  it('carries the compact header with code 200, fileLength, bSize and bOffset', function () {
    should(frame.subarray(2, 2 + FIRST_HEADER.length).toString()).eql(FIRST_HEADER);
  });

  it('carries the block after the header', function () {
    should(frame.subarray(2 + FIRST_HEADER.length, -2).toString()).eql('hello wo');
  });

  it('ends with the CRC-16/ARC of the block only, low byte first', function () {
    should(crc16arc(FIRST_BLOCK)).eql(0xefd0);
    should([...frame.subarray(-2)]).eql([0xd0, 0xef]);
  });

  it('is 2 + header length + bSize + 2 bytes long', function () {
    should(frame.length).eql(2 + FIRST_HEADER.length + 8 + 2);
  });

  it('uses id 1 and fileToken "default" when none are given', function () {
    const header = buildBlockReply({ fileLength: 12, offset: 8 }, PACKAGE.bytes.subarray(8)).subarray(2).toString();
    should(
      header.startsWith(
        '{"id":1,"code":200,"msg":"success","data":{"fileToken":"default","fileLength":12,"bSize":4,"bOffset":8}}rld!',
      ),
    ).be.true();
  });
});

describe('parseBlockReply', function () {
  it('reads back the header and block of a frame', function () {
    const { header, block } = parseBlockReply(
      buildBlockReply({ id: '1', fileToken: 'default', fileLength: 12, offset: 0 }, FIRST_BLOCK),
    );
    should(header).eql({ id: '1', fileToken: 'default', fileLength: 12, bSize: 8, bOffset: 0 });
    should(block.toString()).eql('hello wo');
  });

  it('reads back any block at any offset', function () {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 2000 }),
        fc.nat(),
        fc.oneof(fc.nat(), fc.string({ maxLength: 10 })),
        (bytes, offset, id) => {
          const { header, block } = parseBlockReply(
            buildBlockReply({ id, fileLength: offset + bytes.length, offset }, Buffer.from(bytes)),
          );
          should(header).eql({
            id,
            fileToken: 'default',
            fileLength: offset + bytes.length,
            bSize: bytes.length,
            bOffset: offset,
          });
          should([...block]).eql([...bytes]);
        },
      ),
      { numRuns: 50 },
    );
  });

  it('refuses a frame whose CRC is written high byte first', function () {
    should(() => parseBlockReply(frameOf(FIRST_HEADER, FIRST_BLOCK, [0xef, 0xd0]))).throw(
      refusal('T7 CRC', 'T7 CRC must be 0xefd0, got "0xd0ef"'),
    );
  });

  it('refuses a frame one byte too long or too short', function () {
    const frame = frameOf(FIRST_HEADER, FIRST_BLOCK, [0xd0, 0xef]);
    should(() => parseBlockReply(Buffer.concat([frame, Buffer.from([0])]))).throw(
      refusal('T7 frame length', 'T7 frame length must be 118 bytes (2 + header + bSize + 2), got 119'),
    );
    should(() => parseBlockReply(frame.subarray(0, -1))).throw(refusal('T7 frame length', /got 117$/));
  });

  it('refuses a header length that runs past the frame', function () {
    const frame = frameOf(FIRST_HEADER, FIRST_BLOCK, [0xd0, 0xef]);
    frame.writeUInt16BE(500, 0);
    should(() => parseBlockReply(frame)).throw(
      refusal('T7 header length', 'T7 header length must be at most 116, got 500'),
    );
  });

  it('refuses fewer than 4 bytes, or something that is not a Buffer', function () {
    should(() => parseBlockReply(Buffer.from([0, 0, 0]))).throw(
      refusal('T7 frame', 'T7 frame must be at least 4 bytes, got a Buffer of 3 bytes'),
    );
    should(() => parseBlockReply('frame' as unknown as Buffer)).throw(refusal('T7 frame', /got "frame"$/));
  });

  it('refuses a header that is not a JSON object', function () {
    should(() => parseBlockReply(frameOf('{"code":', Buffer.alloc(0), [0, 0]))).throw(
      refusal('T7 header', 'T7 header must be valid JSON, got "{\\"code\\":"'),
    );
    should(() => parseBlockReply(frameOf('null', Buffer.alloc(0), [0, 0]))).throw(
      refusal('T7 header', 'T7 header must be a JSON object, got null'),
    );
  });

  it('refuses a code other than 200', function () {
    should(() => parseBlockReply(frameOf(FIRST_HEADER.replace('200', '400'), FIRST_BLOCK, [0xd0, 0xef]))).throw(
      refusal('T7 header.code', 'T7 header.code must be 200, got 400'),
    );
  });

  it('refuses a header without bSize, bOffset or fileLength, which Link SDK 4 requires', function () {
    should(() => parseBlockReply(frameOf(FIRST_HEADER.replace('"bSize":8,', ''), FIRST_BLOCK, [0xd0, 0xef]))).throw(
      refusal('T7 header.data.bSize', /^T7 header.data.bSize is required: an integer from 0 to \d+$/),
    );
    should(() => parseBlockReply(frameOf(FIRST_HEADER.replace(',"bOffset":0', ''), FIRST_BLOCK, [0xd0, 0xef]))).throw(
      refusal('T7 header.data.bOffset', /is required/),
    );
    should(() =>
      parseBlockReply(frameOf(FIRST_HEADER.replace('"fileLength":12,', ''), FIRST_BLOCK, [0xd0, 0xef])),
    ).throw(refusal('T7 header.data.fileLength', /is required/));
    should(() => parseBlockReply(frameOf('{"code":200}', Buffer.alloc(0), [0, 0]))).throw(
      refusal('T7 header.data', 'T7 header.data must be an object, got nothing'),
    );
  });

  it('refuses a negative bSize', function () {
    should(() =>
      parseBlockReply(frameOf(FIRST_HEADER.replace('"bSize":8', '"bSize":-1'), FIRST_BLOCK, [0xd0, 0xef])),
    ).throw(refusal('T7 header.data.bSize', /must be an integer from 0 to \d+, got -1$/));
  });
});
