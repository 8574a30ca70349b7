/**
 * The task holding each device's module, as the fleet last read or wrote it: every report looks
 * its task up here first, since the store's row costs more to read than the rest of the report.
 *
 * Kept as maps nested by product key, module and device name rather than one map under a joined
 * key: a report's names are slices of its topic, and a joined key is a new string per report that
 * must be copied and hashed whole on every look-up and every write (a third of a step report's
 * cost in the fleet, by profile). Nested, each level hashes a name once and keeps no new string.
 */
import type { DeviceRef } from '../protocol';
import { ACTIVE_TASK_STATES } from './states';
import type { Task } from './types';

export class ActiveTasks {
  private readonly byProduct = new Map<string, Map<string, Map<string, Task>>>();

  /** The cached task of a device's module, if any. */
  get(device: DeviceRef, module: string): Task | undefined {
    return this.byProduct.get(device.productKey)?.get(module)?.get(device.deviceName);
  }

  /** Keeps a task just read or written: held while active, forgotten once it no longer holds the device. */
  remember(task: Task): void {
    if (ACTIVE_TASK_STATES.includes(task.state)) {
      this.devicesOf(task.productKey, task.module).set(task.deviceName, task);
      return;
    }
    const devices = this.byProduct.get(task.productKey)?.get(task.module);
    if (devices?.get(task.deviceName)?.id === task.id) devices.delete(task.deviceName);
  }

  clear(): void {
    this.byProduct.clear();
  }

  /** How many devices' tasks are held (tests). */
  get size(): number {
    let n = 0;
    for (const modules of this.byProduct.values()) for (const devices of modules.values()) n += devices.size;
    return n;
  }

  private devicesOf(productKey: string, module: string): Map<string, Task> {
    let modules = this.byProduct.get(productKey);
    if (!modules) this.byProduct.set(productKey, (modules = new Map()));
    let devices = modules.get(module);
    if (!devices) modules.set(module, (devices = new Map()));
    return devices;
  }
}
