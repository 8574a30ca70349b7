/**
 * The topic filter rules a client login is held to (src/broker/topic-filters.ts): a topic is
 * matched as MQTT 3.1.1 says, and a subscription is covered by an allowed filter only when every
 * topic it can match is matched by that filter — checked against every topic of a small alphabet.
 */
import fc from 'fast-check';
import should from 'should';
import { filterCovers, filterProblem, topicMatches } from '../../src/broker/topic-filters';

/**
 * Levels of filters and topics. `z` stands for every level no filter names, `$s` for the broker's
 * `$` topics, `''` for an empty level: all topics up to one level longer than the filters then
 * decide coverage exactly (longer ones are matched only through `#`, like the one-longer ones).
 */
const LITERALS = ['a', 'b', '', '$s'];
const TOPIC_LEVELS = [...LITERALS, 'z'];
const MAX_LEVELS = 4;

/** Every topic name of 1 to `levels` levels over TOPIC_LEVELS. */
function allTopics(levels: number): string[] {
  let current: string[][] = [[]];
  const topics: string[] = [];
  for (let n = 1; n <= levels; n++) {
    current = current.flatMap((prefix) => TOPIC_LEVELS.map((level) => [...prefix, level]));
    topics.push(...current.map((l) => l.join('/')).filter((t) => t !== ''));
  }
  return topics;
}
const TOPICS = allTopics(MAX_LEVELS + 1);

/** A well-formed filter: literal levels and `+`, maybe ending in `#`. */
const filterArb = fc
  .tuple(
    fc.array(fc.constantFrom(...LITERALS, '+'), { minLength: 0, maxLength: MAX_LEVELS - 1 }),
    fc.constantFrom(...LITERALS, '+', '#'),
  )
  .map(([levels, last]) => [...levels, last].join('/'))
  .filter((f) => f !== '');

describe('topic filters of client logins', function () {
  it('a topic is matched as the MQTT 3.1.1 examples say', function () {
    const cases: [string, string, boolean][] = [
      ['sport/tennis/player1/#', 'sport/tennis/player1', true],
      ['sport/tennis/player1/#', 'sport/tennis/player1/ranking', true],
      ['sport/tennis/player1/#', 'sport/tennis/player1/score/wimbledon', true],
      ['sport/#', 'sport', true],
      ['sport/tennis/+', 'sport/tennis/player1', true],
      ['sport/tennis/+', 'sport/tennis/player1/ranking', false],
      ['sport/+', 'sport', false],
      ['sport/+', 'sport/', true],
      ['+/+', '/finance', true],
      ['/+', '/finance', true],
      ['+', '/finance', false],
      ['#', '$SYS/broker/clients', false],
      ['+/monitor/Clients', '$SYS/monitor/Clients', false],
      ['$SYS/#', '$SYS/broker/clients', true],
      ['$SYS/monitor/+', '$SYS/monitor/Clients', true],
      ['homeassistant/status', 'homeassistant/status', true],
      ['ota-homeassistant/+/install', 'ota-homeassistant/ota_x/install', true],
      ['ota-homeassistant/+/install', 'ota-homeassistant/ota_x/state', false],
    ];
    should(cases.map(([f, t]) => [f, t, topicMatches(f, t)])).eql(cases);
  });

  it('homeassistant/# covers the discovery topics and nothing beyond the prefix', function () {
    const allowed = 'homeassistant/#';
    for (const filter of ['homeassistant/update/+/config', 'homeassistant/#', 'homeassistant/status', 'homeassistant'])
      should(filterCovers(allowed, filter)).be.true(filter);
    for (const filter of ['#', '+/status', '+/update/+/config', '/ota/#', 'homeassistant2/#', '$SYS/#'])
      should(filterCovers(allowed, filter)).be.false(filter);
    should(filterCovers('#', '$SYS/#')).be.false();
    should(filterCovers('+/#', '+/status')).be.true();
    should(filterCovers('+/#', '#')).be.true(); // every topic has a first level
    should(filterCovers('+', '#')).be.false();
  });

  it('a filter covers another exactly when it matches every topic the other matches', function () {
    fc.assert(
      fc.property(filterArb, filterArb, (allowed, requested) => {
        const everyTopic = TOPICS.every((t) => !topicMatches(requested, t) || topicMatches(allowed, t));
        return filterCovers(allowed, requested) === everyTopic;
      }),
      { numRuns: 300 },
    );
  });

  it('on a topic name, covering is matching', function () {
    fc.assert(
      fc.property(filterArb, fc.constantFrom(...TOPICS), (filter, topic) => {
        return filterCovers(filter, topic) === topicMatches(filter, topic);
      }),
      { numRuns: 300 },
    );
  });

  it('a malformed filter is refused, saying why', function () {
    should(filterProblem('a/#/b')).equal('in the topic filter "a/#/b", # may only be the last level');
    should(filterProblem('a/b#')).equal('in the topic filter "a/b#", + and # must fill a whole level');
    should(filterProblem('a+/b')).equal('in the topic filter "a+/b", + and # must fill a whole level');
    should(filterProblem('')).equal('a topic filter must be a non-empty string');
    should(filterProblem('a/+/#')).be.undefined();
  });
});
