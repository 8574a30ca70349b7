/**
 * The candidate list a large batch's creation keeps: every name, version and active task id comes
 * back as it went in, across the chunks and buffers it is stored in.
 */
import fc from 'fast-check';
import should from 'should';
import { CandidateList } from '../../src/fleet/candidate-list';

interface Row {
  deviceName: string;
  version: string | null;
  activeTaskId: number;
}

/** Buffers of 192 bytes: one name of 64 three-byte characters fills one exactly. */
const SMALL = { chunkBits: 2, nameChunkBytes: 192 };

function listOf(rows: Row[], options = SMALL): CandidateList {
  const list = new CandidateList(options);
  for (const r of rows) list.push(r.deviceName, r.version, r.activeTaskId);
  return list;
}

function rowsOf(list: CandidateList): Row[] {
  const rows: Row[] = [];
  for (let i = 0; i < list.length; i++)
    rows.push({ deviceName: list.deviceName(i), version: list.version(i), activeTaskId: list.activeTaskId(i) });
  return rows;
}

/** Device names as the store holds them: well-formed text of 1 to 64 UTF-16 units. */
const deviceName = fc
  .string({
    unit: fc.constantFrom('a', 'Z', '0', '-', 'é', '设', '备', '😀', '\u00a0'),
    minLength: 1,
    maxLength: 64,
    size: 'max',
  })
  .filter((s) => s.length <= 64 && s.isWellFormed());

const row: fc.Arbitrary<Row> = fc
  .record({
    deviceName,
    version: fc.option(fc.constantFrom('1.0.0', '1.0.1', '2.0.0', 'v3-beta', '版本4'), { nil: null }),
    activeTaskId: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 2 ** 31 }), fc.constant(2 ** 53 - 1)),
  })
  .map((r) => ({ ...r }));

describe('fleet: the candidate list of a batch being created', function () {
  it('gives back every candidate as it was pushed, in order, across chunks and name buffers', function () {
    fc.assert(
      fc.property(fc.array(row, { maxLength: 200 }), (rows) => {
        const list = listOf(rows);
        should(list.length).equal(rows.length);
        should(rowsOf(list)).eql(rows);
      }),
      { numRuns: 300 },
    );
  });

  it('a name goes to a new buffer when the room left is 3 bytes short, and fills one to its last byte', function () {
    const list = new CandidateList({ nameChunkBytes: 12 });
    const rows: Row[] = [
      // Four characters of 3 bytes: the first buffer, to its last byte.
      { deviceName: '设备设备', version: '1.0.0', activeTaskId: 1 },
      // The second buffer: 3 bytes, then 6 more (9 of 12 used).
      { deviceName: 'abc', version: null, activeTaskId: 0 },
      { deviceName: '设备', version: '1.0.0', activeTaskId: 2 },
      // 6 bytes where 3 are left: a third buffer, not a name cut short.
      { deviceName: '设备', version: '2.0.0', activeTaskId: 3 },
      { deviceName: 'é', version: '2.0.0', activeTaskId: 4 },
    ];
    for (const r of rows) list.push(r.deviceName, r.version, r.activeTaskId);
    should(rowsOf(list)).eql(rows);
  });

  it('a name of 64 characters of three bytes each fits, and one that fits no buffer or is empty is refused', function () {
    const longest = '设'.repeat(64);
    const list = new CandidateList({ nameChunkBytes: 192 });
    list.push(longest, null, 0);
    list.push('d-1', '1.0.0', 7);
    should(rowsOf(list)).eql([
      { deviceName: longest, version: null, activeTaskId: 0 },
      { deviceName: 'd-1', version: '1.0.0', activeTaskId: 7 },
    ]);
    should(() => new CandidateList({ nameChunkBytes: 100 }).push(longest, null, 0)).throw(
      /a device name of 64 characters does not fit a candidate list/,
    );
    should(() => list.push('', null, 0)).throw(/a candidate needs a device name/);
    should(list.length).equal(2);
  });

  it('holds a hundred thousand candidates with the default chunks', function () {
    const list = new CandidateList();
    const n = 100_000;
    for (let i = 0; i < n; i++) list.push(`d-${i}`, i % 3 === 0 ? null : `1.0.${i % 5}`, i % 7 === 0 ? i : 0);
    should(list.length).equal(n);
    for (const i of [0, 1, 65_535, 65_536, 99_999])
      should({ deviceName: list.deviceName(i), version: list.version(i), activeTaskId: list.activeTaskId(i) }).eql({
        deviceName: `d-${i}`,
        version: i % 3 === 0 ? null : `1.0.${i % 5}`,
        activeTaskId: i % 7 === 0 ? i : 0,
      });
  });
});
