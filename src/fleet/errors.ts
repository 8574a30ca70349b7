/**
 * Refusals of the fleet: what is wrong and how to fix it. `status` is the HTTP status the admin
 * API answers with; the nodes pass the same error to done(err).
 */
export type FleetErrorCode = 'OTA_NOT_FOUND' | 'OTA_CONFLICT' | 'OTA_REFUSED' | 'OTA_UNSUPPORTED' | 'OTA_STORE';

const STATUS: Record<FleetErrorCode, number> = {
  OTA_NOT_FOUND: 404,
  OTA_CONFLICT: 409,
  OTA_REFUSED: 422,
  OTA_UNSUPPORTED: 415,
  OTA_STORE: 503,
};

export class FleetError extends Error {
  readonly status: number;

  constructor(
    readonly code: FleetErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'FleetError';
    this.status = STATUS[code];
  }
}

export const notFound = (what: string) => new FleetError('OTA_NOT_FOUND', what);
export const conflict = (what: string) => new FleetError('OTA_CONFLICT', what);
export const refused = (what: string) => new FleetError('OTA_REFUSED', what);
