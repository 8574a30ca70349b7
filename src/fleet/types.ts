/** The records of the domain, as the fleet and its store exchange them. */
import type { SignMethod } from '../protocol';
import type { BatchType, Strategy, Targets } from './settings';
import type { BatchState, TaskCounts, TaskState } from './states';

export const VERIFICATION_STATES = ['unverified', 'verifying', 'verified', 'verify-failed', 'not-required'] as const;
export type Verification = (typeof VERIFICATION_STATES)[number];

export interface DeviceModule {
  productKey: string;
  deviceName: string;
  module: string;
  version: string;
  firstSeen: number;
  lastSeen: number;
}

export interface VersionCount {
  productKey: string;
  module: string;
  version: string;
  count: number;
}

/** A firmware in the catalog. Digests unknown for an external package are empty strings. */
export interface Firmware {
  id: string;
  productKey: string;
  module: string;
  version: string;
  size: number;
  md5: string;
  sha256: string;
  signMethod: SignMethod;
  /** An external download URL (CDN, S3), when the package is not hosted here. */
  url?: string;
  /** The hosted package file, by content (sha256), when hosted here. */
  hosted: boolean;
  isDiff: boolean;
  srcVersion?: string;
  extData?: Record<string, string>;
  digestsign?: string;
  /**
   * Several files announced together (`data.files`): at external URLs, or hosted here (each file
   * stored by its sha256; the record's md5/sha256 are then digests of the list, fileListDigests).
   */
  files?: FirmwareFile[];
  /** For download over MQTT: the stream id devices ask for in T6. */
  streamId: number;
  verification: Verification;
  /**
   * The release sequence of the product's module (1, 2, 3…, assigned at upload, only grows):
   * the signed release manifest carries it so devices can refuse an older release replayed.
   */
  sequence: number;
  createdAt: number;
}

/** One file of a multi-file firmware. */
export interface FirmwareFile {
  fileName: string;
  fileSize: number;
  /** The file's digest by the firmware's signMethod. */
  fileSign: string;
  /** Where an external file is downloaded; a hosted file's URL is signed per notice. */
  fileUrl?: string;
  /** A hosted file's digests; the stored file is found by its sha256. */
  md5?: string;
  sha256?: string;
}

export interface Batch {
  id: number;
  firmwareId: string;
  type: BatchType;
  state: BatchState;
  targets: Targets;
  strategy: Strategy;
  reason?: string;
  /** The wave now open (0-based); tasks of later waves wait. */
  wave: number;
  /** A one-off batch recorded for a direct push (every listed device, pending tasks replaced). */
  direct: boolean;
  /** A direct push from an ota-push node set to allow unverified direct pushes: the gate lets it through. */
  allowUnverified: boolean;
  /** The id of the ota-push node that started it: its notices leave there while it is deployed. */
  egress?: string;
  createdAt: number;
  updatedAt: number;
}

/** How far the creation of a CREATING batch got: tasks stored, of how many (null while its devices are still read). */
export interface BatchCreation {
  done: number;
  total: number | null;
}

export interface BatchView extends Batch {
  counts: TaskCounts;
  /** Only while the batch is CREATING. */
  creation?: BatchCreation;
}

export interface Task {
  id: number;
  batchId: number;
  productKey: string;
  deviceName: string;
  module: string;
  /** The device's version when the task was created (null when it had never reported). */
  srcVersion: string | null;
  state: TaskState;
  reason: string | null;
  step: number | null;
  /** Notices sent. */
  attempts: number;
  /** Retries used, of strategy.retryCount. */
  retries: number;
  wave: number;
  /** When the scheduler must next look at this task (push, re-notify, time out, retry). */
  dueAt: number | null;
  /** The first T3: timeouts count from here. */
  startedAt: number | null;
  createdAt: number;
  updatedAt: number;
}

/** One state change, as stored and as emitted. */
export interface Transition {
  taskId: number;
  batchId: number;
  productKey: string;
  deviceName: string;
  module: string;
  from: TaskState | null;
  to: TaskState;
  reason: string | null;
  step: number | null;
  attempts: number;
  at: number;
}
