/**
 * T7, one block of a package over MQTT: a 2-byte big-endian header length, the header JSON,
 * the block, then a CRC-16/ARC of the block, low byte first (ota-protocol.md, T6/T7).
 */
import { ProtocolError } from './errors';
import { checkInteger } from './fields';
import { isPlainObject } from './json';
import { MessageId } from './reports';

const CRC_TABLE = (() => {
  const table = new Uint16Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xa001 : c >>> 1;
    table[n] = c;
  }
  return table;
})();

/** CRC-16/ARC: poly 0xA001 reflected, init 0, no final xor; "123456789" → 0xBB3D. */
export function crc16arc(bytes: Uint8Array): number {
  let crc = 0;
  for (let i = 0; i < bytes.length; i++) crc = (crc >>> 8) ^ CRC_TABLE[(crc ^ bytes[i]) & 0xff];
  return crc;
}

export interface BlockHeader {
  id?: MessageId;
  fileToken: string;
  fileLength: number;
  bSize: number;
  bOffset: number;
}

/** Builds one T7 frame for `block`, which starts at `offset` of a file of `fileLength` bytes. */
export function buildBlockReply(
  h: { id?: MessageId; fileToken?: string; fileLength: number; offset: number },
  block: Buffer,
): Buffer {
  const header = Buffer.from(
    JSON.stringify({
      id: h.id ?? 1,
      code: 200,
      msg: 'success',
      data: { fileToken: h.fileToken ?? 'default', fileLength: h.fileLength, bSize: block.length, bOffset: h.offset },
    }),
  );
  const frame = Buffer.allocUnsafe(2 + header.length + block.length + 2);
  frame.writeUInt16BE(header.length, 0);
  header.copy(frame, 2);
  block.copy(frame, 2 + header.length);
  frame.writeUInt16LE(crc16arc(block), 2 + header.length + block.length);
  return frame;
}

/** Device role: checks a T7 frame's length and CRC and returns its header and block. */
export function parseBlockReply(frame: Buffer): { header: BlockHeader; block: Buffer } {
  if (!Buffer.isBuffer(frame) || frame.length < 4) throw new ProtocolError('T7 frame', 'at least 4 bytes', frame);
  const headerLength = frame.readUInt16BE(0);
  if (2 + headerLength > frame.length)
    throw new ProtocolError('T7 header length', `at most ${frame.length - 2}`, headerLength);
  let parsed: unknown;
  try {
    parsed = JSON.parse(frame.subarray(2, 2 + headerLength).toString('utf8'));
  } catch {
    throw new ProtocolError('T7 header', 'valid JSON', frame.subarray(2, 2 + headerLength).toString('utf8'));
  }
  if (!isPlainObject(parsed)) throw new ProtocolError('T7 header', 'a JSON object', parsed);
  if (parsed.code !== 200) throw new ProtocolError('T7 header.code', '200', parsed.code);
  const data = parsed.data;
  if (!isPlainObject(data)) throw new ProtocolError('T7 header.data', 'an object', data);
  // Link SDK 4 requires all three and reads them as unsigned integers.
  const bSize = checkInteger('T7 header.data.bSize', data.bSize, 0, frame.length);
  const bOffset = checkInteger('T7 header.data.bOffset', data.bOffset, 0, Number.MAX_SAFE_INTEGER);
  const fileLength = checkInteger('T7 header.data.fileLength', data.fileLength, 0, Number.MAX_SAFE_INTEGER);
  if (frame.length !== 2 + headerLength + bSize + 2) {
    throw new ProtocolError(
      'T7 frame length',
      `${2 + headerLength + bSize + 2} bytes (2 + header + bSize + 2)`,
      frame.length,
    );
  }
  const block = frame.subarray(2 + headerLength, 2 + headerLength + bSize);
  const crc = frame.readUInt16LE(2 + headerLength + bSize);
  if (crc !== crc16arc(block))
    throw new ProtocolError('T7 CRC', `0x${crc16arc(block).toString(16)}`, `0x${crc.toString(16)}`);
  return {
    header: {
      id: parsed.id as MessageId | undefined,
      fileToken: String(data.fileToken ?? ''),
      fileLength,
      bSize,
      bOffset,
    },
    block,
  };
}
