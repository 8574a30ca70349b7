/**
 * The JSON an update entity's state topic carries, as HA's MQTT Update platform reads it: the
 * versions, what the latest release is, and whether an install is running and how far. HA checks
 * it against a strict schema (MQTT_JSON_UPDATE_SCHEMA): one key it does not know, or a null where
 * it takes a string or a URL, and it drops the whole message, versions included.
 */
import type { EntityRef } from './entity';

export interface EntityState {
  installed_version: string;
  latest_version: string;
  title: string;
  release_summary: string;
  /** Only an http(s) URL: HA takes no null here, and nothing else. */
  release_url?: string;
  in_progress: boolean;
  update_percentage: number | null;
}

/** What the fleet says about the entity's device and release. */
export interface StateInput {
  entity: EntityRef;
  installedVersion: string;
  /** The newest firmware it may get, when there is one. */
  latest?: { version: string; extData?: Record<string, string> };
  /** Why there is none (shown as the summary). */
  reason?: string;
  /** The task upgrading it: active, and its step when IN_PROGRESS. */
  task?: { active: boolean; step: number | null };
}

/** HA's limit for release_summary, in characters (code points, as Python counts them). */
export const MAX_SUMMARY = 255;

export function entityState(input: StateInput): EntityState {
  const { entity, latest, task } = input;
  const summary =
    latest?.extData?.releaseSummary ??
    (latest ? `Firmware ${latest.version} for ${entity.productKey}/${entity.module}` : (input.reason ?? 'up to date'));
  const step = task?.active && task.step !== null && task.step >= 0 && task.step <= 100 ? task.step : null;
  const state: EntityState = {
    installed_version: input.installedVersion,
    // With nothing to offer, latest equals installed: HA shows the entity as up to date.
    latest_version: latest?.version ?? input.installedVersion,
    title: `${entity.productKey} ${entity.module === 'default' ? 'firmware' : `${entity.module} firmware`}`,
    release_summary: shorten(summary, MAX_SUMMARY),
    in_progress: task?.active === true,
    update_percentage: step,
  };
  const url = latest?.extData?.releaseUrl;
  if (url !== undefined && isWebUrl(url)) state.release_url = url;
  return state;
}

/** At most `max` code points, with an ellipsis when cut: never half of a surrogate pair. */
export function shorten(text: string, max: number): string {
  const chars = Array.from(text);
  return chars.length > max ? `${chars.slice(0, max - 1).join('')}…` : text;
}

/** What HA's `cv.url` takes: an absolute http or https URL with a host. */
export function isWebUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
  } catch {
    return false;
  }
}
