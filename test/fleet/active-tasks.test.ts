/**
 * The cache of each device's active task: found by product key, module and device name, kept
 * while active, and forgotten only by the task it holds.
 */
import should from 'should';
import { ActiveTasks } from '../../src/fleet/active-tasks';
import type { Task } from '../../src/fleet/types';
import { newTask } from './task-rows';

/** A stored task of batch 1 (NOTIFIED unless told), with its id. */
function task(id: number, deviceName: string, fields: Partial<Task> = {}): Task {
  return { id, ...newTask(1, deviceName, 'NOTIFIED'), ...fields };
}

describe('fleet: the cache of active tasks', function () {
  it('finds a task by its product key, module and device name, and nothing under any other', function () {
    const cache = new ActiveTasks();
    const held = task(1, 'dev-1');
    cache.remember(held);
    should(cache.get({ productKey: 'pk1', deviceName: 'dev-1' }, 'default')).equal(held);
    should(cache.get({ productKey: 'pk2', deviceName: 'dev-1' }, 'default')).be.undefined();
    should(cache.get({ productKey: 'pk1', deviceName: 'dev-2' }, 'default')).be.undefined();
    should(cache.get({ productKey: 'pk1', deviceName: 'dev-1' }, 'MCU')).be.undefined();
    // Names are not joined: no pair of names can stand for another.
    cache.remember(task(2, 'a\u0000b', { productKey: 'p' }));
    should(cache.get({ productKey: 'p\u0000a', deviceName: 'b' }, 'default')).be.undefined();
  });

  it('a name read from a topic finds the task a store row holds', function () {
    const cache = new ActiveTasks();
    const held = task(1, 'dev-000123');
    cache.remember(held);
    const topic = '/ota/device/progress/pk1/dev-000123';
    const device = { productKey: topic.slice(21, 24), deviceName: topic.slice(25) };
    should(cache.get(device, 'default')).equal(held);
  });

  it('the newest state of a task replaces the one held; a finished task is forgotten', function () {
    const cache = new ActiveTasks();
    const device = { productKey: 'pk1', deviceName: 'dev-1' };
    cache.remember(task(1, 'dev-1'));
    const progressing = task(1, 'dev-1', { state: 'IN_PROGRESS', step: 10 });
    cache.remember(progressing);
    should(cache.get(device, 'default')).equal(progressing);
    cache.remember(task(1, 'dev-1', { state: 'SUCCEEDED', step: 100 }));
    should(cache.get(device, 'default')).be.undefined();
    should(cache.size).equal(0);
  });

  it('a task of another batch that finishes does not forget the one the device holds now', function () {
    const cache = new ActiveTasks();
    const device = { productKey: 'pk1', deviceName: 'dev-1' };
    const current = task(2, 'dev-1', { batchId: 2 });
    cache.remember(current);
    cache.remember(task(1, 'dev-1', { state: 'CANCELED' }));
    should(cache.get(device, 'default')).equal(current);
  });

  it('every active state is held, and clear forgets them all', function () {
    const cache = new ActiveTasks();
    const states = ['CONFIRM', 'QUEUED', 'NOTIFIED', 'IN_PROGRESS'] as const;
    states.forEach((state, i) => cache.remember(task(i + 1, `dev-${i}`, { state })));
    cache.remember(task(9, 'dev-9', { module: 'MCU' }));
    should(cache.size).equal(5);
    should(cache.get({ productKey: 'pk1', deviceName: 'dev-9' }, 'MCU')?.id).equal(9);
    cache.clear();
    should(cache.size).equal(0);
    should(cache.get({ productKey: 'pk1', deviceName: 'dev-0' }, 'default')).be.undefined();
  });
});
