/**
 * Bad requests to the admin HTTP API (README: Admin API), as fast-check arbitraries: unknown fleets,
 * batches, devices and firmware; ids and names that are not ids or names; bad query parameters;
 * bodies of the wrong shape. Every one is wrong by construction (and none may change anything):
 * the API must answer 4xx with `{error}` saying what is wrong, never 500, never a stack trace.
 */
import fc from 'fast-check';
import { badBatchRequest, FuzzTarget, INJECTION_NAMES } from './fuzz';

export interface AdminCase {
  kind: string;
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** The statuses this request may get (all 4xx). */
  expect: number[];
}

export interface AdminTarget extends FuzzTarget {
  fleetId: string;
  /** Devices that reported but are in no batch. */
  idle: string[];
}

const enc = encodeURIComponent;
const json = (value: unknown) => ({ headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(value) });

/** A path segment that is not a positive integer (so never an existing batch). */
const notAnId = fc
  .oneof(
    fc.constantFrom(
      'abc',
      '0',
      '-1',
      '1.5',
      '0.5',
      'NaN',
      'Infinity',
      '1e400',
      '9007199254740993',
      'null',
      'true',
      '[1]',
      '%',
      ' ',
      '١',
    ),
    fc.string({ minLength: 1, maxLength: 20 }),
  )
  .filter((v) => v.trim() !== '' && !(Number.isSafeInteger(Number(v)) && Number(v) >= 1));

/** A query value that is not an integer in 0..max (one value, several, or an object). */
function badIntQuery(name: string, max: number): fc.Arbitrary<string> {
  return fc.oneof(
    fc
      .oneof(
        fc.constantFrom('-1', '1.5', 'abc', 'NaN', '1e400', String(max + 1), '-0.5', '0x'),
        fc.string({ minLength: 1, maxLength: 10 }),
      )
      .filter((v) => v.trim() !== '' && !(Number.isSafeInteger(Number(v)) && Number(v) >= 0 && Number(v) <= max))
      .map((v) => `${name}=${enc(v)}`),
    fc.tuple(fc.nat(1000), fc.nat(1000)).map(([a, b]) => `${name}=${a}&${name}=${b}`),
    fc.nat(1000).map((a) => `${name}[x]=${a}`),
  );
}

/** A query value that is not one string: repeated, or an object in bracket notation. */
function badStringQuery(name: string): fc.Arbitrary<string> {
  return fc.oneof(
    fc
      .tuple(fc.string({ minLength: 1, maxLength: 8 }), fc.string({ minLength: 1, maxLength: 8 }))
      .map(([a, b]) => `${name}=${enc(a)}&${name}=${enc(b)}`),
    fc.string({ minLength: 1, maxLength: 8 }).map((a) => `${name}[$ne]=${enc(a)}`),
  );
}

/** A name that is not one topic level (as a path segment, percent-encoded). */
const badName = fc.oneof(
  fc.constantFrom('a/b', '../../etc', '+', '#', 'dev#1', 'x\u0000y', '\u0000', 'x'.repeat(65), '/'),
  fc
    .tuple(fc.string({ maxLength: 10 }), fc.constantFrom('/', '+', '#', '\u0000'), fc.string({ maxLength: 10 }))
    .map(([a, c, b]) => a + c + b),
  fc.string({ minLength: 65, maxLength: 120 }),
);

export function adminCases(t: AdminTarget): fc.Arbitrary<AdminCase> {
  const F = `/ota/fleets/${enc(t.fleetId)}`;
  const unknownFleet = fc.string({ minLength: 1, maxLength: 40 }).filter((s) => s !== t.fleetId);
  const unknownBatch = fc.integer({ min: 1, max: 1_000_000 }).map((n) => t.batchId + n);
  const known = t.devices[0];
  const ghost = fc
    .constantFrom(...INJECTION_NAMES, 'ghost-1', 'never-reported')
    .filter((n) => !t.devices.includes(n) && !t.idle.includes(n));
  const G = (kind: string, path: string, expect = [400]): AdminCase => ({ kind, method: 'GET', path, expect });

  const fleetRoutes = (fleet: string): fc.Arbitrary<AdminCase> => {
    const P = `/ota/fleets/${enc(fleet)}`;
    return fc.constantFrom<AdminCase>(
      G('unknown fleet', `${P}/devices`, [404]),
      G('unknown fleet', `${P}/devices/pk1/${known}`, [404]),
      G('unknown fleet', `${P}/versions`, [404]),
      G('unknown fleet', `${P}/firmware`, [404]),
      G('unknown fleet', `${P}/firmware/${enc(t.firmwareId)}`, [404]),
      G('unknown fleet', `${P}/batches`, [404]),
      G('unknown fleet', `${P}/batches/${t.batchId}`, [404]),
      G('unknown fleet', `${P}/batches/${t.batchId}/tasks`, [404]),
      G('unknown fleet', `${P}/batches/${t.batchId}/transitions`, [404]),
      {
        kind: 'unknown fleet',
        method: 'PUT',
        path: `${P}/devices/pk1/${known}/tags`,
        ...json({ tags: ['x'] }),
        expect: [404],
      },
      {
        kind: 'unknown fleet',
        method: 'POST',
        path: `${P}/batches`,
        ...json({ firmwareId: t.firmwareId, targets: { selection: 'ALL' } }),
        expect: [404],
      },
      { kind: 'unknown fleet', method: 'POST', path: `${P}/batches/${t.batchId}/cancel`, ...json({}), expect: [404] },
      {
        kind: 'unknown fleet',
        method: 'POST',
        path: `${P}/batches/${t.batchId}/tasks/pk1/${known}/cancel`,
        ...json({}),
        expect: [404],
      },
      {
        kind: 'unknown fleet',
        method: 'POST',
        path: `${P}/firmware?productKey=pk1&version=9.9.9`,
        headers: { 'Content-Type': 'application/octet-stream' },
        body: Buffer.from('pkg'),
        expect: [404],
      },
      { kind: 'unknown fleet', method: 'DELETE', path: `${P}/firmware/${enc(t.firmwareId)}`, expect: [404] },
      G('unknown fleet', `${P}/credentials`, [404]),
      {
        kind: 'unknown fleet',
        method: 'POST',
        path: `${P}/credentials`,
        ...json([{ productKey: 'pk1', deviceName: known, deviceSecret: 's' }]),
        expect: [404],
      },
      { kind: 'unknown fleet', method: 'DELETE', path: `${P}/credentials/pk1/${known}`, expect: [404] },
      {
        kind: 'unknown fleet',
        method: 'POST',
        path: `${P}/mqtt/authenticate`,
        ...json({ clientid: 'c', username: 'u', password: 'p' }),
        expect: [404],
      },
      {
        kind: 'unknown fleet',
        method: 'POST',
        path: `${P}/mqtt/authorize`,
        ...json({ clientid: 'c', username: 'u', topic: 't', action: 'publish' }),
        expect: [404],
      },
    );
  };

  const batchRoutes = (id: string, expect: number[], kind: string): fc.Arbitrary<AdminCase> =>
    fc.constantFrom<AdminCase>(
      G(kind, `${F}/batches/${id}`, expect),
      G(kind, `${F}/batches/${id}/tasks`, expect),
      G(kind, `${F}/batches/${id}/tasks?state=QUEUED`, expect),
      // (…/transitions of an unknown batch answers 200 []: a BUG test in test/reliability/fuzz-admin.)
      ...(kind === 'unknown batch' ? [] : [G(kind, `${F}/batches/${id}/transitions`, expect)]),
      ...['cancel', 'pause', 'resume', 'confirm', 'reupgrade'].map((a): AdminCase => ({
        kind,
        method: 'POST',
        path: `${F}/batches/${id}/${a}`,
        ...json({}),
        expect,
      })),
      ...['reupgrade', 'confirm', 'cancel'].map((a): AdminCase => ({
        kind,
        method: 'POST',
        path: `${F}/batches/${id}/tasks/pk1/${known}/${a}`,
        ...json({}),
        expect,
      })),
    );

  const queries = fc.oneof(
    badIntQuery('limit', 100_000).map((q) => G('bad query', `${F}/devices?${q}`)),
    badIntQuery('offset', Number.MAX_SAFE_INTEGER).map((q) => G('bad query', `${F}/devices?${q}`)),
    fc
      .constantFrom('productKey', 'module', 'version', 'search')
      .chain((name) => badStringQuery(name).map((q) => G('bad query', `${F}/devices?${q}`))),
    badStringQuery('productKey').map((q) => G('bad query', `${F}/versions?${q}`)),
    badStringQuery('productKey').map((q) => G('bad query', `${F}/firmware?${q}`)),
    fc
      .oneof(
        fc.constantFrom('FOO', 'queued', 'DONE', "QUEUED' OR 1=1 --"),
        fc
          .string({ minLength: 1, maxLength: 12 })
          .filter((s) => !/^(CONFIRM|QUEUED|NOTIFIED|IN_PROGRESS|SUCCEEDED|FAILED|CANCELED)$/.test(s)),
      )
      .map((s) => G('bad query', `${F}/batches/${t.batchId}/tasks?state=${enc(s)}`)),
    fc
      .constantFrom('state=QUEUED&state=FAILED', 'state[x]=QUEUED')
      .map((q) => G('bad query', `${F}/batches/${t.batchId}/tasks?${q}`)),
    badIntQuery('limit', 100_000).map((q) => G('bad query', `${F}/batches/${t.batchId}/tasks?${q}`)),
    badIntQuery('limit', 100_000).map((q) => G('bad query', `${F}/batches/${t.batchId}/transitions?${q}`)),
  );

  const names = fc.oneof(
    fc
      .tuple(badName, fc.boolean())
      .map(([bad, inKey]) =>
        G('bad device name', `${F}/devices/${enc(inKey ? bad : 'pk1')}/${enc(inKey ? known : bad)}`),
      ),
    fc.tuple(badName, fc.boolean()).map(([bad, inKey]): AdminCase => ({
      kind: 'bad device name',
      method: 'PUT',
      path: `${F}/devices/${enc(inKey ? bad : 'pk1')}/${enc(inKey ? known : bad)}/tags`,
      ...json({ tags: ['x'] }),
      expect: [400],
    })),
    fc.tuple(badName, fc.constantFrom('reupgrade', 'confirm', 'cancel')).map(([bad, a]): AdminCase => ({
      kind: 'bad device name',
      method: 'POST',
      path: `${F}/batches/${t.batchId}/tasks/pk1/${enc(bad)}/${a}`,
      ...json({}),
      expect: [400],
    })),
    ghost.map((n) => G('unknown device', `${F}/devices/pk1/${enc(n)}`, [404])),
    fc.tuple(ghost, fc.constantFrom('reupgrade', 'confirm', 'cancel')).map(([n, a]): AdminCase => ({
      kind: 'device not in the batch',
      method: 'POST',
      path: `${F}/batches/${t.batchId}/tasks/pk1/${enc(n)}/${a}`,
      ...json({}),
      expect: [404],
    })),
  );

  const badTags = fc.oneof(
    fc.constantFrom<unknown>(5, 'x', null, true, {}, { a: 1 }),
    fc.array(
      fc.oneof(
        fc.constant(''),
        fc.integer(),
        fc.constant(null),
        fc.string({ minLength: 65, maxLength: 80 }),
        fc.constant(['nested']),
      ),
      { minLength: 1, maxLength: 3 },
    ),
  );
  const bodies = fc.oneof(
    fc.tuple(badTags, fc.constantFrom(...t.devices)).map(([tags, dn]): AdminCase => ({
      kind: 'bad tags',
      method: 'PUT',
      path: `${F}/devices/pk1/${enc(dn)}/tags`,
      ...json(tags === undefined ? {} : { tags }),
      expect: [400],
    })),
    fc.constantFrom<unknown>([], [1, 2], [{ tags: ['x'] }]).map((b): AdminCase => ({
      kind: 'bad tags',
      method: 'PUT',
      path: `${F}/devices/pk1/${known}/tags`,
      ...json(b),
      expect: [400],
    })),
    badBatchRequest(t).map((b): AdminCase => ({
      kind: `batch: ${b.defect.replace(/ = .*$/, '')}`,
      method: 'POST',
      path: `${F}/batches`,
      ...json(b.request),
      expect: [400, 404, 422],
    })),
    fc.constantFrom<unknown>([], [{ firmwareId: t.firmwareId }], [1]).map((b): AdminCase => ({
      kind: 'batch body not an object',
      method: 'POST',
      path: `${F}/batches`,
      ...json(b),
      expect: [400],
    })),
    fc
      .constantFrom(
        'firmwareId[$gt]=',
        `firmwareId=${enc(t.firmwareId)}&type=upgrade`,
        `firmwareId=${enc(t.firmwareId)}&targets=ALL`,
        'type=static',
      )
      .map((b): AdminCase => ({
        kind: 'batch as a form',
        method: 'POST',
        path: `${F}/batches`,
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: b,
        expect: [400, 404, 422],
      })),
    fc
      .constantFrom(JSON.stringify({ firmwareId: t.firmwareId, targets: { selection: 'ALL' } }), 'firmwareId=x')
      .map((b): AdminCase => ({
        kind: 'batch as text',
        method: 'POST',
        path: `${F}/batches`,
        headers: { 'Content-Type': 'text/plain' },
        body: b,
        expect: [400],
      })),
    // Controls of the running batch that are wrong: bad states, bad device lists, devices not in it.
    fc
      .tuple(
        fc.constantFrom('cancel', 'pause', 'resume', 'confirm'),
        fc.oneof(
          fc.constantFrom<unknown>('FOO', 'done', 1, null, {}, ['QUEUED', 'DONE']),
          fc
            .array(fc.string({ maxLength: 8 }), { minLength: 1, maxLength: 2 })
            .filter((a) => a.some((s) => !/^(CONFIRM|QUEUED|NOTIFIED|IN_PROGRESS|SUCCEEDED|FAILED|CANCELED)$/.test(s))),
        ),
      )
      .map(([a, states]): AdminCase => ({
        kind: 'control: bad states',
        method: 'POST',
        path: `${F}/batches/${t.batchId}/${a}`,
        ...json({ states }),
        expect: [400],
      })),
    fc
      .tuple(
        fc.constantFrom('cancel', 'pause', 'resume', 'confirm'),
        fc.oneof(fc.constantFrom<unknown>('dev-000', 5, {}, true), fc.array(badName, { minLength: 1, maxLength: 2 })),
      )
      .map(([a, devices]): AdminCase => ({
        kind: 'control: bad devices',
        method: 'POST',
        path: `${F}/batches/${t.batchId}/${a}`,
        ...json({ devices }),
        expect: [400],
      })),
    fc
      .tuple(fc.constantFrom('cancel', 'confirm'), fc.array(ghost, { minLength: 1, maxLength: 2 }))
      .map(([a, devices]): AdminCase => ({
        kind: 'control: devices not in the batch',
        method: 'POST',
        path: `${F}/batches/${t.batchId}/${a}`,
        ...json({ devices }),
        expect: [404],
      })),
    fc.constant<AdminCase>({
      kind: 'control: resume a running batch',
      method: 'POST',
      path: `${F}/batches/${t.batchId}/resume`,
      ...json({}),
      expect: [422],
    }),
    fc
      .oneof(
        fc.constantFrom('start', 'delete', 'CANCEL', 'Reupgrade', 'explode', '..'),
        fc
          .string({ minLength: 1, maxLength: 12 })
          .filter((a) => !['cancel', 'pause', 'resume', 'confirm', 'reupgrade', 'tasks'].includes(a)),
      )
      .map((a): AdminCase => ({
        kind: 'unknown action',
        method: 'POST',
        path: `${F}/batches/${t.batchId}/${enc(a)}`,
        ...json({}),
        expect: [404],
      })),
    fc
      .oneof(
        fc.constantFrom('pause', 'resume', 'delete', 'CANCEL'),
        fc.string({ minLength: 1, maxLength: 12 }).filter((a) => !['cancel', 'confirm', 'reupgrade'].includes(a)),
      )
      .map((a): AdminCase => ({
        kind: 'unknown task action',
        method: 'POST',
        path: `${F}/batches/${t.batchId}/tasks/pk1/${known}/${enc(a)}`,
        ...json({}),
        expect: [404],
      })),
  );

  const firmware = fc.oneof(
    fc
      .string({ minLength: 1, maxLength: 64 })
      .filter((id) => id !== t.firmwareId)
      .map((id) => G('unknown firmware', `${F}/firmware/${enc(id)}`, [404])),
    fc
      .string({ minLength: 1, maxLength: 64 })
      .filter((id) => id !== t.firmwareId)
      .map((id): AdminCase => ({
        kind: 'unknown firmware',
        method: 'DELETE',
        path: `${F}/firmware/${enc(id)}`,
        expect: [404],
      })),
    fc
      .constantFrom(
        '',
        'version=1.0.0',
        'productKey=pk1',
        'productKey=a%2Fb&version=1',
        'productKey=pk1&version=',
        `productKey=pk1&version=${'v'.repeat(65)}`,
        'productKey=pk1&version=1%22',
        'productKey=pk1&version=1&module=%00',
        'productKey=pk1&version=1&signMethod=crc32',
        'productKey=pk1&version=1&version=2',
        'productKey[$ne]=x&version=1',
        'productKey=pk1&version=1&srcVersion=%0A',
      )
      .map((q): AdminCase => ({
        kind: 'bad upload metadata',
        method: 'POST',
        path: `${F}/firmware?${q}`,
        headers: { 'Content-Type': 'application/octet-stream' },
        body: Buffer.from('a package'),
        expect: [400],
      })),
    fc.constant<AdminCase>({
      kind: 'empty package',
      method: 'POST',
      path: `${F}/firmware?productKey=pk1&version=9.9.9`,
      headers: { 'Content-Type': 'application/octet-stream' },
      body: Buffer.alloc(0),
      expect: [400, 422],
    }),
  );

  // Registrations that are wrong in one row (none may store anything), and broker checks missing a field.
  const credentials = fc.oneof(
    fc.tuple(fc.oneof(badName, fc.constant('')), fc.boolean()).map(([bad, inKey]): AdminCase => ({
      kind: 'credentials: bad name',
      method: 'POST',
      path: `${F}/credentials`,
      ...json([
        { productKey: 'pk1', deviceName: 'fuzz-ok', deviceSecret: 's1' },
        { productKey: inKey ? bad : 'pk1', deviceName: inKey ? 'fuzz-2' : bad, deviceSecret: 's2' },
      ]),
      expect: [422],
    })),
    fc
      .oneof(
        fc.constantFrom<unknown>('', null, 5, 'two words', 'x'.repeat(129), 'tab\t'),
        fc.string({ minLength: 1, maxLength: 8 }).filter((v) => !/^[\x21-\x7e]+$/.test(v)),
      )
      .map((secret): AdminCase => ({
        kind: 'credentials: bad secret',
        method: 'POST',
        path: `${F}/credentials`,
        ...json([{ productKey: 'pk1', deviceName: 'fuzz-1', deviceSecret: secret }]),
        expect: [422],
      })),
    fc.constantFrom<unknown>([], {}, { devices: [] }, [1], [null]).map((b): AdminCase => ({
      kind: 'credentials: not a list of devices',
      method: 'POST',
      path: `${F}/credentials`,
      ...json(b),
      expect: [422],
    })),
    fc
      .constantFrom(
        'pk1,dev-x',
        'ProductKey,DeviceName\npk1,dev-x',
        'pk1,"dev-x,s',
        'pk1,dev"x,s',
        'pk1,a/b,s',
        '\uFEFF\r\n',
      )
      .map((text): AdminCase => ({
        kind: 'credentials: bad CSV',
        method: 'POST',
        path: `${F}/credentials`,
        headers: { 'Content-Type': 'text/csv' },
        body: text,
        expect: [422],
      })),
    fc.constant<AdminCase>({
      kind: 'credentials: raw bytes',
      method: 'POST',
      path: `${F}/credentials`,
      headers: { 'Content-Type': 'application/octet-stream' },
      body: Buffer.from('pk1,d,s'),
      expect: [415],
    }),
    badIntQuery('limit', 100_000).map((q) => G('bad query', `${F}/credentials?${q}`)),
    badStringQuery('productKey').map((q) => G('bad query', `${F}/credentials?${q}`)),
    fc.tuple(badName, fc.boolean()).map(([bad, inKey]): AdminCase => ({
      kind: 'bad device name',
      method: 'DELETE',
      path: `${F}/credentials/${enc(inKey ? bad : 'pk1')}/${enc(inKey ? known : bad)}`,
      expect: [400],
    })),
    ghost.map((n): AdminCase => ({
      kind: 'unregistered device',
      method: 'DELETE',
      path: `${F}/credentials/pk1/${enc(n)}`,
      expect: [404],
    })),
    fc
      .tuple(
        fc.constantFrom('clientid', 'username', 'password'),
        fc.constantFrom<unknown>(undefined, 5, null, ['x'], {}),
      )
      .map(([field, value]): AdminCase => {
        const body: Record<string, unknown> = { clientid: 'c', username: 'u', password: 'p', [field]: value };
        if (value === undefined) delete body[field];
        return {
          kind: 'broker check: bad login request',
          method: 'POST',
          path: `${F}/mqtt/authenticate`,
          ...json(body),
          expect: [400],
        };
      }),
    fc
      .oneof(
        fc.constantFrom('all', 'PUBLISH', 'read', ''),
        fc.string({ maxLength: 8 }).filter((a) => a !== 'publish' && a !== 'subscribe'),
      )
      .map((action): AdminCase => ({
        kind: 'broker check: unknown action',
        method: 'POST',
        path: `${F}/mqtt/authorize`,
        ...json({ clientid: 'c', username: `${known}&pk1`, topic: 't', action }),
        expect: [400],
      })),
  );

  return fc.oneof(
    { arbitrary: credentials, weight: 3 },
    { arbitrary: unknownFleet.chain(fleetRoutes), weight: 2 },
    { arbitrary: notAnId.chain((id) => batchRoutes(enc(id), [400], 'not a batch id')), weight: 2 },
    { arbitrary: unknownBatch.chain((id) => batchRoutes(String(id), [404], 'unknown batch')), weight: 2 },
    { arbitrary: queries, weight: 3 },
    { arbitrary: names, weight: 3 },
    { arbitrary: bodies, weight: 5 },
    { arbitrary: firmware, weight: 2 },
  );
}
