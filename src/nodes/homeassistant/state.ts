/**
 * The JSON an update entity's state topic carries, as HA's MQTT Update platform reads it:
 * the versions, what the latest release is, and whether an install is running and how far.
 */
import type { EntityRef } from './entity';

export interface EntityState {
  installed_version: string;
  latest_version: string;
  title: string;
  release_summary: string;
  release_url: string | null;
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

/** HA's limit for release_summary. */
export const MAX_SUMMARY = 255;

export function entityState(input: StateInput): EntityState {
  const { entity, latest, task } = input;
  const summary =
    latest?.extData?.releaseSummary ??
    (latest ? `Firmware ${latest.version} for ${entity.productKey}/${entity.module}` : (input.reason ?? 'up to date'));
  const step = task?.active && task.step !== null && task.step >= 0 && task.step <= 100 ? task.step : null;
  return {
    installed_version: input.installedVersion,
    // With nothing to offer, latest equals installed: HA shows the entity as up to date.
    latest_version: latest?.version ?? input.installedVersion,
    title: `${entity.productKey} ${entity.module === 'default' ? 'firmware' : `${entity.module} firmware`}`,
    release_summary: summary.length > MAX_SUMMARY ? `${summary.slice(0, MAX_SUMMARY - 1)}…` : summary,
    release_url: latest?.extData?.releaseUrl ?? null,
    in_progress: task?.active === true,
    update_percentage: step,
  };
}
