/**
 * The editor's words in every language: each English catalog and help file has its Chinese
 * counterpart with the same keys, placeholders and sections, and every key a node's editor file
 * asks for is in its catalog. Read from the files alone, no Node-RED running.
 */
import fs from 'node:fs';
import path from 'node:path';
import should from 'should';
import { typographyFaults } from './browser/zh-text';

const root = path.resolve(__dirname, '../..');
const locales = path.join(root, 'nodes', 'locales');
const BASE = 'en-US';
const TRANSLATIONS = ['zh-CN'];
const PACKAGE = '@mqtt-ota/node-red-contrib-mqtt-ota';

type Catalog = { [key: string]: string | Catalog };

function filesOf(language: string, extension: string): string[] {
  const dir = path.join(locales, language);
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(extension))
    .sort();
}

function readCatalog(language: string, file: string): Catalog {
  return JSON.parse(fs.readFileSync(path.join(locales, language, file), 'utf8')) as Catalog;
}

/** Every leaf of a catalog by its dotted path: {"a": {"b": "x"}} → [["a.b", "x"]]. */
function leaves(catalog: Catalog, prefix = ''): Array<[string, unknown]> {
  return Object.entries(catalog).flatMap(([key, value]): Array<[string, unknown]> => {
    const at = prefix ? `${prefix}.${key}` : key;
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? leaves(value as Catalog, at)
      : [[at, value]];
  });
}

/** The i18next placeholders of a text, as Node-RED configures them: `__name__`. */
function placeholders(text: string): string[] {
  return [...new Set(Array.from(text.matchAll(/__([A-Za-z0-9_]+)__/g), (m) => m[1]))].sort();
}

/** What differs between two catalogs: key paths one has and the other lacks, and placeholders. */
function catalogDifferences(base: Catalog, other: Catalog): string[] {
  const theirs = new Map(leaves(other));
  const ours = new Map(leaves(base));
  const problems: string[] = [];
  for (const key of ours.keys()) if (!theirs.has(key)) problems.push(`missing ${key}`);
  for (const key of theirs.keys()) if (!ours.has(key)) problems.push(`extra ${key}`);
  for (const [key, value] of ours) {
    const translated = theirs.get(key);
    if (typeof value !== 'string' || typeof translated !== 'string') continue;
    const want = placeholders(value).join(', ');
    const got = placeholders(translated).join(', ');
    if (want !== got) problems.push(`${key}: placeholders [${got}], English has [${want}]`);
  }
  return problems;
}

/** Leaves that are not text, or empty text. */
function emptyValues(catalog: Catalog): string[] {
  return leaves(catalog)
    .filter(([, value]) => typeof value !== 'string' || value.trim() === '')
    .map(([key]) => key);
}

/** The outline of a help text: its headings, lists, definitions and paragraphs, in order. */
function outline(html: string): string {
  return Array.from(html.matchAll(/<(h[1-6]|p|dl|dt|ol|ul|li)[\s>]/g), (m) => m[1]).join(' ');
}

function helpNameOf(html: string): string | undefined {
  return /data-help-name=["']([^"']+)["']/.exec(html)?.[1];
}

/**
 * The catalog keys an editor file asks for: `data-i18n` attributes, `this._('…')`, `RED._('…')`,
 * the file's own `t('…')` helper (whose prefix it reads from the helper's body) and any
 * `<package>/<node>:key` literal. Keys whose call does not start with a string literal are
 * returned as problems, since no test could check them.
 */
function editorKeys(html: string): { keys: string[]; dynamic: string[] } {
  const keys: string[] = [];
  const dynamic: string[] = [];
  for (const m of html.matchAll(/data-i18n="([^"]*)"/g)) {
    for (const part of m[1].split(';')) keys.push(part.replace(/^\[[^\]]*\]/, '').trim());
  }
  const tPrefix = /function\s+t\s*\(\s*key\b[^)]*\)\s*\{[^}]*?\._\(\s*'([^']*)'\s*\+\s*key/.exec(html)?.[1];
  const calls = /(?<![\w$.])(this\._|RED\._|t)\(\s*([^,)]*)/g;
  for (const m of html.matchAll(calls)) {
    const [, callee, argument] = m;
    if (callee === 't' && tPrefix === undefined) continue; // no t helper in this file: some other t
    if (callee === 't' && /function\s+$/.test(html.slice(0, m.index))) continue; // its definition
    const literal = /^(['"])([^'"]*)\1$/.exec(argument.trim());
    if (!literal) {
      dynamic.push(`${callee}(${argument.trim()})`);
      continue;
    }
    keys.push(callee === 't' ? `${tPrefix}${literal[2]}` : literal[2]);
  }
  for (const m of html.matchAll(new RegExp(`['"](${PACKAGE}/[\\w-]+:[\\w.-]+)['"]`, 'g'))) keys.push(m[1]);
  return { keys: [...new Set(keys)], dynamic };
}

/** Whether a key, relative to the catalog of `file` (nodes/<file>.html), is there. */
function hasKey(file: string, key: string): boolean {
  let catalogFile = `${file}.json`;
  let local = key;
  const ns = /^([^:]+):(.*)$/.exec(key);
  if (ns) {
    if (ns[1] === 'node-red') return true; // Node-RED's own catalog
    catalogFile = `${ns[1].replace(`${PACKAGE}/`, '')}.json`;
    local = ns[2];
  }
  const full = path.join(locales, BASE, catalogFile);
  if (!fs.existsSync(full)) return false;
  return new Map(leaves(readCatalog(BASE, catalogFile))).has(local);
}

/**
 * A help file or a catalog text as a browser lays it out: each block on its own line, inline tags
 * gone (so a space before a <code> stays a space), runs of white space one space, entities decoded.
 */
function shownText(html: string): string {
  return html
    .replace(/<\/?(?:p|h[1-6]|li|ul|ol|dl|dt|dd|div|br|script)\b[^>]*>/g, '\uE000')
    .replace(/<[^>]*>/g, '')
    .replace(/\s+/g, ' ')
    .replace(/ ?\uE000[ \uE000]*/g, '\n')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&nbsp;/g, ' ')
    .replace(/&amp;/g, '&');
}

/** The Chinese typography faults of a catalog's texts (with their keys), or of a help file. */
function catalogTypography(catalog: Catalog): string[] {
  return leaves(catalog).flatMap(([key, value]) =>
    typeof value === 'string' ? typographyFaults(shownText(value)).map((fault) => `${key}: ${fault}`) : [],
  );
}

/** The editor parts whose Chinese is typeset as Chinese: ota-homeassistant joins once its texts pass. */
const TYPESET = [
  'ota-console',
  'ota-fleet',
  'ota-homeassistant',
  'ota-inform',
  'ota-progress',
  'ota-push',
  'ota-verify',
];

const catalogs = filesOf(BASE, '.json');
const helps = filesOf(BASE, '.html');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  'node-red'?: { nodes?: Record<string, string> };
};
const editorFiles = Object.values(pkg['node-red']?.nodes ?? {}).map((file) => path.basename(file, '.js'));

/** A missing translation fails every check of it, never skips one (its "exists" test names it too). */
function needTranslation(file: string): void {
  should(fs.existsSync(file)).be.true(`${path.relative(locales, file)} is missing`);
}

describe('the translations', function () {
  it('start from English catalogs and help files', function () {
    should(catalogs).not.be.empty();
    should(helps).not.be.empty();
  });

  for (const file of catalogs) {
    describe(`the catalog ${file}`, function () {
      it('has no empty text in English', function () {
        should(emptyValues(readCatalog(BASE, file))).eql([], `empty values in ${BASE}/${file}`);
      });

      for (const language of TRANSLATIONS) {
        it(`exists in ${language}`, function () {
          should(fs.existsSync(path.join(locales, language, file))).be.true(`${language}/${file} is missing`);
        });

        it(`has in ${language} exactly the English key paths, with the same placeholders in each text`, function () {
          needTranslation(path.join(locales, language, file));
          should(catalogDifferences(readCatalog(BASE, file), readCatalog(language, file))).eql(
            [],
            `${language}/${file} differs from ${BASE}/${file}`,
          );
        });

        it(`has no empty text in ${language}`, function () {
          needTranslation(path.join(locales, language, file));
          should(emptyValues(readCatalog(language, file))).eql([], `empty values in ${language}/${file}`);
        });
      }

      if (TYPESET.includes(path.basename(file, '.json')))
        it('uses full-width punctuation in zh-CN, with no stray space in Chinese', function () {
          should(catalogTypography(readCatalog('zh-CN', file))).eql([], `zh-CN/${file}`);
        });
    });
  }

  for (const file of helps) {
    describe(`the help ${file}`, function () {
      for (const language of TRANSLATIONS) {
        const translated = path.join(locales, language, file);

        it(`exists in ${language}`, function () {
          should(fs.existsSync(translated)).be.true(`${language}/${file} is missing`);
        });

        it(`helps the same node in ${language}, with the same outline of sections, lists and paragraphs`, function () {
          needTranslation(translated);
          const english = fs.readFileSync(path.join(locales, BASE, file), 'utf8');
          const other = fs.readFileSync(translated, 'utf8');
          should(helpNameOf(other)).equal(helpNameOf(english));
          should(outline(other)).equal(outline(english), `${language}/${file} is not laid out as ${BASE}/${file}`);
        });
      }

      if (TYPESET.includes(path.basename(file, '.html')))
        it('uses full-width punctuation in zh-CN, with no stray space in Chinese', function () {
          const html = fs.readFileSync(path.join(locales, 'zh-CN', file), 'utf8');
          should(typographyFaults(shownText(html))).eql([], `zh-CN/${file}`);
        });
    });
  }

  for (const file of editorFiles) {
    describe(`the editor file nodes/${file}.html`, function () {
      const html = fs.readFileSync(path.join(root, 'nodes', `${file}.html`), 'utf8');
      const { keys, dynamic } = editorKeys(html);

      it('asks its catalog for keys that can be checked (string literals)', function () {
        should(dynamic).eql([], `keys built at run time in nodes/${file}.html`);
      });

      it(`finds every key it asks for in ${BASE}/${file}.json`, function () {
        should(keys).not.be.empty();
        should(keys.filter((key) => !hasKey(file, key))).eql([], `keys missing from ${BASE}/${file}.json`);
      });
    });
  }
});

describe('the checks of the translations', function () {
  it('report a missing key, an extra key and changed placeholders by their path', function () {
    const english = { a: { b: 'B __n__', c: 'C' }, d: 'D' };
    const other = { a: { b: 'B', e: 'E' }, d: 'D' };
    should(catalogDifferences(english, other)).eql([
      'missing a.c',
      'extra a.e',
      'a.b: placeholders [], English has [n]',
    ]);
  });

  it('read a help as it is shown: a line break in a sentence is a space, a block ends its line', function () {
    const html = '<p>\n  设备群保存：\n  <code>a &lt;b&gt;</code>。\n</p>\n<ul><li>一</li><li>二，\n 三</li></ul>';
    should(shownText(html)).equal('\n设备群保存： a <b>。\n一\n二， 三\n');
    should(typographyFaults(shownText(html))).have.length(2);
  });

  it('report an empty text by its path', function () {
    should(emptyValues({ a: { b: ' ' }, c: 'C' })).eql(['a.b']);
  });

  it("read keys from data-i18n, this._, RED._ and the file's t helper, and flag keys built at run time", function () {
    const html = `
      <script>
        function t(key, options) { return RED.nodes.getType('x')._('x.' + key, options); }
        t('errors.a'); this._('x.label'); RED._("x.other"); this._('x.role.' + role);
        RED.clipboard.copyText(v, el, '${PACKAGE}/y:y.copied');
      </script>
      <span data-i18n="[placeholder]x.p;x.q"></span>`;
    const { keys, dynamic } = editorKeys(html);
    should(keys.sort()).eql(['x.errors.a', 'x.label', 'x.other', 'x.p', 'x.q', `${PACKAGE}/y:y.copied`].sort());
    should(dynamic).eql(["this._('x.role.' + role)"]);
  });
});
