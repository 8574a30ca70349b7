/**
 * How each device SDK reads what the platform sends, written down from its source (docs/sdk-shapes.md),
 * so a test can ask "what does this device see in our notice?" instead of comparing strings.
 * Every reader returns what the SDK extracts, in the fixture's `deviceSees` words, or why it drops the message.
 */

export type Reading = { accepted: true; sees: Record<string, unknown> } | { accepted: false; why: string };

const drop = (why: string): Reading => ({ accepted: false, why });

/**
 * Link SDK 4's `core_json_value`: the first `"key"` anywhere in the text wins; the value must follow `:`
 * at once; strings end at the next `"` (no unescaping); objects and arrays end at the matching bracket,
 * counted without regard to strings. Returns the value and where it starts.
 */
export function coreJsonValue(input: string, key: string): { value: string; at: number } | undefined {
  for (let idx = 0; idx < input.length; idx++) {
    if (idx + key.length >= input.length) return undefined;
    if (input.startsWith(key, idx) && idx > 0 && input[idx - 1] === '"' && input[idx + key.length] === '"') {
      idx += key.length;
      if (idx + 2 >= input.length || input[idx + 1] !== ':') return undefined;
      idx += 2;
      if (input[idx] === '"') {
        const end = input.indexOf('"', idx + 1);
        return end < 0 ? undefined : { value: input.slice(idx + 1, end), at: idx + 1 };
      }
      if (input[idx] === '{' || input[idx] === '[') {
        const open = input[idx];
        const close = open === '{' ? '}' : ']';
        let depth = 0;
        for (let j = idx; j < input.length; j++) {
          if (input[j] === open) depth++;
          else if (input[j] === close && --depth === 0) return { value: input.slice(idx, j + 1), at: idx };
        }
        return undefined;
      }
      for (let j = idx; j < input.length; j++) {
        if (input[j] === ',' || input[j] === ']' || input[j] === '}') return { value: input.slice(idx, j), at: idx };
      }
      return undefined;
    }
  }
  return undefined;
}

/** `core_str2uint`: digits only, else an error (undefined). */
function str2uint(text: string | undefined): number | undefined {
  return text !== undefined && /^\d+$/.test(text) ? Number(text) : undefined;
}

/** Link SDK 4's `_ota_parse_list_array`: scans from the array to the END of `data`; every `{…}` is one file. */
function listEntries(data: string, from: number): string[] {
  const entries: string[] = [];
  if (data[from + 1] === ']') return entries;
  let start = -1;
  for (let i = from + 1; i < data.length && entries.length < 20; i++) {
    if (data[i] === '{') start = i;
    else if (data[i] === '}' && start >= 0) {
      entries.push(data.slice(start, i + 1));
      start = -1;
    }
  }
  return entries;
}

/** Link SDK 4 on T2 and T5 (`_ota_mqtt_process` + `_process_single_file`). */
export function linkSdk4ReadsNotice(payload: string): Reading {
  const data = coreJsonValue(payload, 'data')?.value;
  if (data === undefined) return drop('no "data"');
  const version = coreJsonValue(data, 'version')?.value;
  if (version === undefined) return drop('no data.version');
  const signMethod = coreJsonValue(data, 'signMethod')?.value;
  if (signMethod === undefined) return drop('no data.signMethod');
  let protocol = 'HTTPS';
  let streamId: number | undefined;
  const dProtocol = coreJsonValue(data, 'dProtocol')?.value;
  if (dProtocol !== undefined) {
    if (dProtocol === 'mqtt') protocol = 'MQTT';
    const id = coreJsonValue(data, 'streamId')?.value;
    if (id === undefined) return drop('dProtocol without streamId');
    streamId = str2uint(id);
  }
  let digestMethod: string;
  if (signMethod === 'SHA256' || signMethod === 'Sha256') digestMethod = 'SHA256';
  else if (signMethod === 'Md5') digestMethod = 'MD5';
  else return drop(`unknown signMethod ${JSON.stringify(signMethod)}`);
  const common = {
    version,
    digestMethod,
    module: coreJsonValue(data, 'module')?.value ?? null,
    extraData: coreJsonValue(data, 'extData')?.value,
    protocol,
  };
  const files = coreJsonValue(data, 'files');
  if (files !== undefined) {
    const entries = listEntries(data, files.at);
    const delivered: Record<string, unknown>[] = [];
    for (const entry of entries) {
      const file = readOneFile(entry, entries.length, digestMethod, protocol);
      if (!file.accepted) break;
      delivered.push(file.sees);
    }
    if (delivered.length === 0) return drop(`no file could be read from files[] (${entries.length} entries)`);
    return {
      accepted: true,
      sees: { ...common, fileNum: entries.length, files: delivered.map((f) => f.fileName), entries: delivered },
    };
  }
  const single = readOneFile(data, 1, digestMethod, protocol);
  if (!single.accepted) return single;
  return { accepted: true, sees: { ...common, streamId, ...single.sees } };
}

function readOneFile(text: string, fileNum: number, digestMethod: string, protocol: string): Reading {
  const several = fileNum > 1;
  const size = coreJsonValue(text, several ? 'fileSize' : 'size')?.value;
  const sign = coreJsonValue(text, several ? 'fileSign' : 'sign')?.value;
  if (size === undefined || sign === undefined) return drop('no size or sign');
  const sees: Record<string, unknown> = {};
  if (protocol === 'HTTPS') {
    const url = coreJsonValue(text, several ? 'fileUrl' : 'url')?.value;
    if (url === undefined) return drop('no url');
    sees.url = url;
  } else {
    const fileId = coreJsonValue(text, 'streamFileId')?.value;
    if (fileId === undefined) return drop('no streamFileId');
    sees.streamFileId = str2uint(fileId);
  }
  if (several) {
    const name = coreJsonValue(text, 'fileName')?.value;
    if (name === undefined) return drop('no fileName');
    sees.fileName = name;
  }
  if (sign.length !== (digestMethod === 'MD5' ? 32 : 64)) return drop(`sign of ${sign.length} characters`);
  // The size's parse error is not checked: a bad size reads as 0.
  return { accepted: true, sees: { ...sees, size: str2uint(size) ?? 0, expectDigest: sign } };
}

/** Link SDK 4's MQTT downloader on one T7 frame (`_md_recv_data_reply_handler` + `_parse_json_header`). */
export function linkSdk4ReadsBlock(frame: Buffer, requestedOffset: number): Reading {
  const headerLength = (frame[0] << 8) | frame[1];
  const header = frame.subarray(2, 2 + headerLength).toString('latin1');
  const code = str2uint(coreJsonValue(header, 'code')?.value);
  if (code !== 200) return drop('header code is not 200');
  const data = coreJsonValue(header, 'data')?.value;
  if (data === undefined) return drop('no header data');
  const bSize = str2uint(coreJsonValue(data, 'bSize')?.value);
  const bOffset = str2uint(coreJsonValue(data, 'bOffset')?.value);
  const fileLength = str2uint(coreJsonValue(data, 'fileLength')?.value);
  if (bSize === undefined || bOffset === undefined || fileLength === undefined) return drop('header parse error');
  if (frame.length !== 2 + headerLength + bSize + 2) return drop('frame length mismatch');
  const block = frame.subarray(2 + headerLength, 2 + headerLength + bSize);
  const crc16 = frame.readUInt16LE(frame.length - 2); // *(uint16_t *) on a little-endian MCU
  if (crc16 !== crcIbm(block)) return drop('CRC mismatch');
  if (bOffset !== requestedOffset) return drop('bOffset is not the requested offset');
  return {
    accepted: true,
    sees: {
      headerLength,
      code,
      fileLength,
      bSize,
      bOffset,
      fileToken: coreJsonValue(data, 'fileToken')?.value,
      dataText: block.toString('latin1'),
      crc16: `0x${crc16.toString(16).padStart(4, '0')}`,
      frameLength: frame.length,
    },
  };
}

/** Link SDK 4's `crc_ibm`, bit by bit rather than by table, so it checks the codec's table independently. */
export function crcIbm(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xa001 : crc >>> 1;
  }
  return crc;
}

/**
 * iotkit-embedded 3.x on T2 and on its pull answer (`ota_callback` + `otalib_GetParams`): a nesting-aware
 * parser that skips empty strings; `message` must be "success"; md5 is required, at most 32 characters,
 * compared with the lowercase hex the device computes. On /ota/device/request a payload without the
 * text `url` is taken for the device's own request and ignored.
 */
export function iotkit3ReadsNotice(payload: string, topic: string): Reading {
  if (topic.startsWith('/ota/device/request/') && !payload.includes('url')) return drop('no "url" in the text');
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(payload);
  } catch {
    return drop('invalid json doc of OTA');
  }
  if (body.message !== 'success') return drop('message is not "success"');
  const data = body.data as Record<string, unknown> | undefined;
  if (typeof data !== 'object' || data === null) return drop('no data');
  const present = (key: string) => data[key] !== undefined && data[key] !== '';
  for (const key of ['version', 'url', 'md5', 'size']) if (!present(key)) return drop(`get value of ${key} key failed`);
  const md5 = String(data.md5);
  if (md5.length > 32) return drop('md5: value length of the key is too long');
  if (!/^[0-9a-f]{32}$/.test(md5)) return drop('md5 is not the lowercase hex the device compares with');
  const size = String(data.size);
  if (size.length > 16) return drop('size: value length of the key is too long');
  const sees: Record<string, unknown> = { version: data.version, url: data.url, md5, size: parseInt(size, 10) };
  if (present('module')) sees.module = data.module;
  return { accepted: true, sees };
}

/**
 * aliyun-iot-linkkit (Python) on T2 and T5 (`__on_internal_async_message`, `download_ota_firmware`):
 * url, version, size, signMethod and sign present and not ""; only "Md5" and "SHA256" can be verified,
 * against the lowercase `hexdigest()`.
 */
export function pythonLinkkitReadsNotice(payload: string, topic: string): Reading {
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(payload);
  } catch {
    return drop('json.loads failed');
  }
  const data = (body.data ?? {}) as Record<string, unknown>;
  for (const key of ['url', 'version', 'size', 'signMethod', 'sign']) {
    if (data[key] === undefined || data[key] === null || data[key] === '') return drop('invalid download params');
  }
  if (data.signMethod !== 'Md5' && data.signMethod !== 'SHA256') return drop('OTA_INVALID_SIGN_METHOD');
  if (!/^[0-9a-f]+$/.test(String(data.sign))) return drop('sign is not lowercase hex');
  return {
    accepted: true,
    sees: {
      otaNoticeType: topic.endsWith('/thing/ota/firmware/get_reply') ? 2 : 1,
      version: data.version,
      size: data.size,
      url: data.url,
      signMethod: data.signMethod,
      sign: data.sign,
      module: data.module ?? 'default',
      extra: data.extData === undefined ? '' : pythonRepr(data.extData as Record<string, string>),
    },
  };
}

/** `str(dict)` of a dict of strings. */
function pythonRepr(tags: Record<string, string>): string {
  return `{${Object.entries(tags)
    .map(([k, v]) => `'${k}': '${v}'`)
    .join(', ')}}`;
}

/** The reader for a fixture vector's `sdk`. */
export function readerFor(sdk: string): (payload: string, topic: string) => Reading {
  if (sdk.startsWith('Link SDK C 4')) return (payload) => linkSdk4ReadsNotice(payload);
  if (sdk.startsWith('iotkit-embedded 3')) return iotkit3ReadsNotice;
  if (sdk.startsWith('aliyun-iot-linkkit')) return pythonLinkkitReadsNotice;
  throw new Error(`no reader for ${sdk}`);
}
