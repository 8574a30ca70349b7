// The OTA tab's data: what it shows (view), the admin API requests (relative URLs, so
// httpAdminRoot and adminAuth tokens work), loaders that never run twice at once, and the live
// updates the runtime plugin (src/nodes/ota-console.ts) pushes over the comms channel, gathered
// into one refresh of what changed and is on screen.
(function (OtaConsole) {
  'use strict';
  const { t } = OtaConsole.format;

  /** Live notices are coalesced by the runtime (500 ms); this gathers those that arrive together. */
  const REFRESH_DELAY_MS = 250;

  const view = {
    fleets: [],
    fleetId: null,
    panel: 'versions',
    versions: [],
    firmware: [],
    batches: [],
    /** The open batch detail: its id, the state filter, the page. */
    detail: null,
    tasks: [],
    /** Devices panel: the search, its results, the device shown. */
    search: { text: '', productKey: '', module: '', version: '' },
    found: null,
    device: null,
    deviceInfo: null,
    loaded: false,
  };
  /** The tab's elements the views render into (root, fleet, message, tabs, panels, batchForm). */
  const ui = {};
  /** The single-flight loaders by name: versions, firmware, batches, tasks, device. */
  const loaders = {};

  // ---- requests ---------------------------------------------------------------------------------

  function apiError(xhr) {
    const body = xhr.responseJSON;
    if (body && body.error) return new Error(body.error);
    if (xhr.status === 401 || xhr.status === 403) return new Error(t('api.notAllowed'));
    const status = ((xhr.status || t('api.noAnswer')) + ' ' + (xhr.statusText || '')).trim();
    return new Error(t('api.failed', { status }));
  }

  /** $.ajax as a promise; relative URLs go through the editor's auth and admin root. */
  function ajax(options) {
    return new Promise((resolve, reject) => {
      $.ajax(Object.assign({ dataType: 'json', cache: false }, options))
        .done((data) => resolve(data))
        .fail((xhr) => reject(apiError(xhr)));
    });
  }

  function fleetUrl(path) {
    return 'ota/fleets/' + encodeURIComponent(view.fleetId) + path;
  }

  function get(path, query) {
    return ajax({ url: fleetUrl(path) + (query ? '?' + $.param(query) : ''), method: 'GET' });
  }

  /** A page of a list: its rows and the cursor of the next page (X-Next-After), null on the last. */
  function getPage(path, query) {
    return new Promise((resolve, reject) => {
      $.ajax({
        url: fleetUrl(path) + (query ? '?' + $.param(query) : ''),
        method: 'GET',
        dataType: 'json',
        cache: false,
      })
        .done((items, _status, xhr) => resolve({ items, next: xhr.getResponseHeader('X-Next-After') || null }))
        .fail((xhr) => reject(apiError(xhr)));
    });
  }

  function post(path, body) {
    return ajax({
      url: fleetUrl(path),
      method: 'POST',
      contentType: 'application/json',
      data: JSON.stringify(body || {}),
    });
  }

  function taskPath(batchId, task, action) {
    return (
      '/batches/' +
      batchId +
      '/tasks/' +
      encodeURIComponent(task.productKey) +
      '/' +
      encodeURIComponent(task.deviceName) +
      '/' +
      action
    );
  }

  // ---- what the user may do and see ---------------------------------------------------------------

  function canRead() {
    return RED.user.hasPermission('ota.read');
  }

  function canWrite() {
    return RED.user.hasPermission('ota.write');
  }

  function currentFleet() {
    return view.fleets.find((f) => f.id === view.fleetId);
  }

  function firmwareById(id) {
    return view.firmware.find((f) => f.id === id);
  }

  function batchById(id) {
    return view.batches.find((b) => b.id === id);
  }

  function isShown() {
    return ui.root && $(ui.root).is(':visible');
  }

  function showMessage(text, kind) {
    if (!ui.message) return;
    ui.message.textContent = text || '';
    ui.message.className = 'ota-console-message' + (kind ? ' ota-console-message-' + kind : '');
  }

  /**
   * Runs an action, then tells the user how it went (RED.notify) in the words of `action`
   * (`actions.pause.done`, `actions.pause.failed`) and refreshes.
   */
  function act(action, vars, promise, then) {
    return promise.then(
      (result) => {
        RED.notify(t(action + '.done', vars), { type: 'success', timeout: 2500 });
        if (then) then(result);
        return result;
      },
      (err) => {
        RED.notify(t(action + '.failed', Object.assign({ error: err.message }, vars)), {
          type: 'error',
          timeout: 6000,
        });
        throw err;
      },
    );
  }

  /**
   * A loader that never runs twice at once: a call while one is in flight runs it once more
   * when that one ends, so a storm of notices costs at most two requests in a row.
   */
  function singleFlight(name, fn) {
    const state = { running: null, again: false };
    loaders[name] = function () {
      if (state.running) {
        state.again = true;
        return state.running;
      }
      const fleetId = view.fleetId;
      state.running = Promise.resolve()
        .then(fn)
        .catch((err) => {
          if (fleetId === view.fleetId) showMessage(err.message, 'error');
        })
        .finally(() => {
          state.running = null;
          if (state.again) {
            state.again = false;
            loaders[name]();
          }
        });
      return state.running;
    };
  }

  // ---- live updates ---------------------------------------------------------------------------------

  const pending = { devices: false, firmware: false, batches: false, tasks: new Set() };
  let refreshTimer = null;

  function onFleetUpdate(topic, msg) {
    if (!msg || msg.fleetId !== view.fleetId) return;
    pending.devices = pending.devices || msg.devicesChanged;
    pending.firmware = pending.firmware || msg.firmwareChanged;
    for (const change of msg.batches || []) {
      const known = batchById(change.id);
      if (known) Object.assign(known, { state: change.state, counts: change.counts, creation: change.creation });
      else pending.batches = true;
    }
    if ((msg.batches || []).length) OtaConsole.batches.renderSummaries();
    for (const id of msg.tasksChanged || []) pending.tasks.add(id);
    scheduleRefresh();
  }

  function onFleetsUpdate() {
    loadFleets();
  }

  function scheduleRefresh() {
    if (refreshTimer) return;
    refreshTimer = setTimeout(refreshChanged, REFRESH_DELAY_MS);
  }

  /** Refetches what the notices said changed; what is not on screen is fetched when shown. */
  function refreshChanged() {
    refreshTimer = null;
    if (!isShown()) {
      view.stale = true;
      return;
    }
    if (pending.devices) loaders.versions();
    if (pending.firmware) loaders.firmware();
    if (pending.batches) loaders.batches();
    if (view.detail && pending.tasks.has(view.detail.id)) loaders.tasks();
    if (view.device && (pending.devices || view.deviceInfo?.tasks.some((t) => pending.tasks.has(t.batchId))))
      loaders.device();
    pending.devices = pending.firmware = pending.batches = false;
    pending.tasks.clear();
  }

  let subscribedTopic = null;
  function subscribeFleet() {
    if (subscribedTopic) RED.comms.unsubscribe(subscribedTopic, onFleetUpdate);
    subscribedTopic = view.fleetId ? 'ota/' + view.fleetId : null;
    if (subscribedTopic) RED.comms.subscribe(subscribedTopic, onFleetUpdate);
  }

  /** Follows deploys that add, remove or restart a fleet. */
  function subscribeFleets() {
    RED.comms.subscribe('ota/fleets', onFleetsUpdate);
  }

  // ---- the fleet shown ------------------------------------------------------------------------------

  function loadFleets() {
    return ajax({ url: 'ota/fleets', method: 'GET' }).then(
      (fleets) => {
        view.fleets = fleets;
        const remembered = RED.settings.getLocal && RED.settings.getLocal('ota-console-fleet');
        const keep = fleets.find((f) => f.id === view.fleetId) || fleets.find((f) => f.id === remembered) || fleets[0];
        OtaConsole.tab.renderFleetPicker();
        selectFleet(keep ? keep.id : null, true);
      },
      (err) => showMessage(err.message, 'error'),
    );
  }

  function selectFleet(id, reload) {
    const changed = id !== view.fleetId;
    view.fleetId = id;
    if (ui.fleet) ui.fleet.value = id || '';
    if (changed) {
      if (RED.settings.setLocal && id) RED.settings.setLocal('ota-console-fleet', id);
      view.detail = null;
      view.device = null;
      view.deviceInfo = null;
      view.found = null;
      subscribeFleet();
      OtaConsole.batchForm.reset();
    }
    if (changed || reload) loadAll();
  }

  function loadAll() {
    showMessage('');
    if (!view.fleetId) {
      view.versions = [];
      view.firmware = [];
      view.batches = [];
      OtaConsole.tab.renderAll();
      showMessage(t('tab.noFleetDeployed'), 'info');
      return Promise.resolve();
    }
    view.stale = false;
    const work = [loaders.versions(), loaders.firmware(), loaders.batches()];
    if (view.detail) work.push(loaders.tasks());
    if (view.device) work.push(loaders.device());
    return Promise.all(work);
  }

  OtaConsole.api = {
    view,
    ui,
    loaders,
    ajax,
    fleetUrl,
    get,
    getPage,
    post,
    taskPath,
    canRead,
    canWrite,
    currentFleet,
    firmwareById,
    batchById,
    isShown,
    showMessage,
    act,
    singleFlight,
    subscribeFleets,
    loadFleets,
    selectFleet,
    loadAll,
  };
})(window.OtaConsole);
