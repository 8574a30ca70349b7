// The OTA tab's words and formats: the message catalog lookup, the state names, and the pure
// functions that turn the admin API's values into text. Loaded first after the loader.
(function (OtaConsole) {
  'use strict';

  /** The plugin's message catalog: nodes/locales/<lang>/ota-console.json, under the plugin's id. */
  const NAMESPACE = '@mqtt-ota/node-red-contrib-mqtt-ota/ota-console';

  /** A word of the tab in the editor's language: t('detail.title', { id: 3 }). */
  function t(key, vars) {
    return RED._(NAMESPACE + ':' + key, vars);
  }

  const STATES = ['CONFIRM', 'QUEUED', 'NOTIFIED', 'IN_PROGRESS', 'SUCCEEDED', 'FAILED', 'CANCELED'];
  /** The order of the segments of a progress bar: finished first. */
  const BAR_ORDER = ['SUCCEEDED', 'FAILED', 'CANCELED', 'IN_PROGRESS', 'NOTIFIED', 'QUEUED', 'CONFIRM'];
  const ACTIVE = ['CONFIRM', 'QUEUED', 'NOTIFIED', 'IN_PROGRESS'];
  const FINISHED = ['SUCCEEDED', 'FAILED', 'CANCELED'];
  const OPEN_BATCH = ['PLANNED', 'IN_PROGRESS', 'PAUSED'];
  const PAGE_SIZE = 200;

  /** A task state as the tab names it ("awaiting confirm"); an unknown one as it came. */
  function stateLabel(state) {
    return STATES.includes(state) ? t('state.' + state) : state;
  }

  function batchStateLabel(state) {
    return OPEN_BATCH.includes(state) || ['CREATING', 'COMPLETED', 'CANCELED'].includes(state)
      ? t('batchState.' + state)
      : state;
  }

  function batchTypeLabel(type) {
    return ['static', 'dynamic', 'verify'].includes(type) ? t('batchType.' + type) : type;
  }

  const VERIFICATIONS = ['unverified', 'verifying', 'verified', 'verify-failed', 'not-required'];
  function verificationLabel(verification) {
    return VERIFICATIONS.includes(verification) ? t('verification.' + verification) : verification;
  }

  function formatBytes(n) {
    if (n < 1024) return t('format.bytes', { n });
    const units = ['KiB', 'MiB', 'GiB', 'TiB'];
    let value = n / 1024;
    let unit = 0;
    while (value >= 1024 && unit < units.length - 1) {
      value /= 1024;
      unit++;
    }
    return value.toFixed(1) + ' ' + units[unit];
  }

  /** Today's times show the time only; dates and times in the browser's locale. */
  function formatTime(ms) {
    if (ms === null || ms === undefined) return '—';
    const d = new Date(ms);
    return d.toDateString() === new Date().toDateString() ? d.toLocaleTimeString() : d.toLocaleString();
  }

  function isoTime(ms) {
    return ms === null || ms === undefined ? '' : new Date(ms).toISOString();
  }

  /** A percentage as the language writes it ("45 %" in English, "45%" in Chinese). */
  function formatPercent(n) {
    return t('format.percent', { n });
  }

  /** A step in %, or a device's failure code (a negative step). */
  function formatStep(step) {
    if (step === null || step === undefined) return '—';
    return step >= 0 ? formatPercent(step) : t('format.failedStep', { step });
  }

  function total(counts) {
    return STATES.reduce((sum, s) => sum + (counts[s] || 0), 0);
  }

  function countsText(counts) {
    const parts = BAR_ORDER.filter((s) => counts[s]).map((s) =>
      t('format.stateCount', { count: counts[s], state: stateLabel(s) }),
    );
    return parts.length ? parts.join(' · ') : t('format.noTasks');
  }

  function firmwareLabel(fw) {
    return fw.productKey + '/' + fw.module + ' ' + fw.version;
  }

  /** The digest a firmware is checked with, as the upload form names it. */
  function signMethodLabel(signMethod) {
    return { Md5: 'MD5', SHA256: 'SHA-256' }[signMethod] || signMethod;
  }

  function byVersionDesc(a, b) {
    return String(b).localeCompare(String(a), undefined, { numeric: true });
  }

  /** A list typed as "a, b" or one per line (names may hold spaces: only commas and lines separate). */
  function splitList(text) {
    return String(text || '')
      .split(/[,\r\n]+/)
      .map((s) => s.trim())
      .filter(Boolean);
  }

  /** A version, module or tag as the fleet takes it: 1 to 64 printable characters, no quote or backslash. */
  function isLabel(text) {
    return (
      text.length >= 1 &&
      text.length <= 64 &&
      !/["\\]/.test(text) &&
      ![...text].some((c) => c.charCodeAt(0) < 32 || c.charCodeAt(0) === 127)
    );
  }

  /** A product key or device name: one MQTT topic level of 1 to 64 characters. */
  function isName(text) {
    return text.length >= 1 && text.length <= 64 && !/[/+#]/.test(text) && !text.includes('\u0000');
  }

  /** The rules the fleet applies to labels and names, as the messages under the fields say them. */
  function labelRule() {
    return t('rules.label');
  }

  function nameRule() {
    return t('rules.name');
  }

  OtaConsole.format = {
    NAMESPACE,
    t,
    STATES,
    BAR_ORDER,
    ACTIVE,
    FINISHED,
    OPEN_BATCH,
    PAGE_SIZE,
    stateLabel,
    batchStateLabel,
    batchTypeLabel,
    verificationLabel,
    formatBytes,
    formatTime,
    isoTime,
    formatPercent,
    formatStep,
    total,
    countsText,
    firmwareLabel,
    signMethodLabel,
    byVersionDesc,
    splitList,
    isLabel,
    isName,
    labelRule,
    nameRule,
  };
})(window.OtaConsole);
