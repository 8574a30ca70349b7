/**
 * The OTA tab's message catalogs: every language has exactly the keys of en-US, every key the
 * tab's scripts name exists, and the texts keep their placeholders (__count__, __id__, …).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import should from 'should';
import { PACKAGE_ROOT } from '../../src/demo/node-red';

const LOCALES = join(PACKAGE_ROOT, 'nodes', 'locales');
const SCRIPTS = join(PACKAGE_ROOT, 'resources', 'ota-console');

type Catalog = { [key: string]: string | Catalog };

/** The catalog as key → text, keys dotted ("batchForm.invalid.tag"). */
function flatten(catalog: Catalog, prefix = ''): Map<string, string> {
  const out = new Map<string, string>();
  for (const [key, value] of Object.entries(catalog)) {
    if (typeof value === 'string') out.set(prefix + key, value);
    else for (const [k, v] of flatten(value, `${prefix}${key}.`)) out.set(k, v);
  }
  return out;
}

function load(lang: string): Map<string, string> {
  return flatten(JSON.parse(readFileSync(join(LOCALES, lang, 'ota-console.json'), 'utf8')) as Catalog);
}

function placeholders(text: string): string[] {
  return [...text.matchAll(/__(\w+)__/g)].map((m) => m[1]).sort();
}

describe("the OTA tab's message catalogs", function () {
  const english = load('en-US');
  const languages = readdirSync(LOCALES).filter((lang) => lang !== 'en-US');

  it('ship a Chinese catalog besides the English one', function () {
    should(languages).containEql('zh-CN');
  });

  it('every language has exactly the keys of en-US, with the same placeholders', function () {
    for (const lang of languages) {
      let other: Map<string, string>;
      try {
        other = load(lang);
      } catch {
        continue; // a language whose node catalogs exist, without the tab's yet
      }
      should({ lang, keys: [...other.keys()].sort() }).eql({ lang, keys: [...english.keys()].sort() });
      for (const [key, text] of english)
        should({ lang, key, placeholders: placeholders(other.get(key) as string) }).eql({
          lang,
          key,
          placeholders: placeholders(text),
        });
    }
  });

  it('every key the scripts name is in the catalog', function () {
    const sections = new Set([...english.keys()].map((k) => k.split('.')[0]));
    const named = new Set<string>();
    const families = new Set<string>();
    for (const file of readdirSync(SCRIPTS).filter((f) => f.endsWith('.js'))) {
      const source = readFileSync(join(SCRIPTS, file), 'utf8');
      for (const [, key] of source.matchAll(/'([a-zA-Z]+\.[\w.-]*)'/g)) {
        if (!sections.has(key.split('.')[0]) || key.endsWith('.js')) continue;
        if (key.endsWith('.')) families.add(key);
        else named.add(key);
      }
    }
    const exists = (key: string) => english.has(key) || [...english.keys()].some((k) => k.startsWith(`${key}.`));
    should([...named].filter((key) => !exists(key))).eql([]);
    // Keys built from a value ('state.' + state) have one text per value.
    should([...families].sort()).eql([
      'actions.',
      'batchForm.selection.',
      'batchState.',
      'batchType.',
      'columns.',
      'panel.',
      'state.',
      'verification.',
    ]);
    const under = (family: string) => [...english.keys()].filter((k) => k.startsWith(family)).length;
    should(under('state.')).equal(7);
    should(under('batchState.')).equal(6);
    should(under('verification.')).equal(5);
    should(under('panel.')).equal(4);
    // Each action has its two notices: done and failed.
    for (const key of english.keys())
      if (key.startsWith('actions.')) should(english.has(key.replace(/\.(done|failed)$/, '.done'))).be.true(key);
    should([...english.keys()].filter((k) => k.startsWith('actions.') && k.endsWith('.failed')).length).equal(
      [...english.keys()].filter((k) => k.startsWith('actions.') && k.endsWith('.done')).length,
    );
  });
});
