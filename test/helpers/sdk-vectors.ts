/** The real SDK message shapes of test/fixtures/sdk-shapes.json (see docs/sdk-shapes.md), looked up by what they say. */
import { readFileSync } from 'node:fs';
import path from 'node:path';

export interface SdkVector {
  sdk: string;
  topicKind: string;
  direction: string;
  topic: string;
  qos?: number;
  payload: string;
  expect: Record<string, unknown>;
}

interface SdkShapes {
  examplePackage: { text: string; size: number; md5: string; sha256: string };
  vectors: SdkVector[];
}

// build/test/helpers → test/fixtures: the fixture is read from the source tree, not copied by tsc.
const shapes = JSON.parse(
  readFileSync(path.join(__dirname, '../../../test/fixtures/sdk-shapes.json'), 'utf8'),
) as SdkShapes;

export const LINK_SDK_4 = 'Link SDK C 4.x';
export const IOTKIT_3 = 'iotkit-embedded 3.x';
export const IOTKIT_2 = 'iotkit-embedded 2.x (pre-3.0, for reference)';

/** The package every vector describes: "hello world!". */
export const EXAMPLE_PACKAGE = { ...shapes.examplePackage, bytes: Buffer.from(shapes.examplePackage.text) };

/** The first vector of `sdk` for `topicKind` whose `expect` has every given value. */
export function sdkVector(sdk: string, topicKind: string, expect: Record<string, unknown> = {}): SdkVector {
  const found = shapes.vectors.find(
    (v) =>
      v.sdk === sdk &&
      v.topicKind === topicKind &&
      Object.entries(expect).every(([key, value]) => JSON.stringify(v.expect[key]) === JSON.stringify(value)),
  );
  if (!found) throw new Error(`no ${sdk} ${topicKind} vector with ${JSON.stringify(expect)} in sdk-shapes.json`);
  return found;
}
