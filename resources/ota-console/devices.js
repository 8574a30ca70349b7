// The Devices section: find a device by part of its name (or list those at a version, from the
// Versions section); a device shows each module's version, its tags and its task history.
(function (OtaConsole) {
  'use strict';
  const { t, formatTime, isoTime, formatStep } = OtaConsole.format;
  const { h, fill, button, field, keepFocus, focusIn, stateBadge } = OtaConsole.widgets;
  const { view, ui, loaders, get, getPage, showMessage, singleFlight } = OtaConsole.api;

  /** Device modules a page lists; typing more of the name narrows them, Previous/Next page through. */
  const FOUND_LIMIT = 100;

  /** The search's pages: the cursor each starts at (null: the first), and the one shown. */
  let pages = { cursors: [null], page: 0 };

  singleFlight('device', () => {
    const device = view.device;
    if (!device) return null;
    return get('/devices/' + encodeURIComponent(device.productKey) + '/' + encodeURIComponent(device.deviceName)).then(
      (info) => {
        if (view.device !== device) return;
        view.deviceInfo = info;
        renderDeviceInfo();
      },
    );
  });

  /** Lists the devices of a product key and module at a version (a bar of the Versions section). */
  function showAt(productKey, module, version) {
    view.search = { text: '', productKey, module, version };
    view.device = null;
    view.deviceInfo = null;
    OtaConsole.tab.showPanel('devices');
    render();
    search();
  }

  function render() {
    const panel = ui.panels.devices;
    const s = view.search;
    const input = h('input', {
      type: 'search',
      name: 'search',
      value: s.text,
      placeholder: t('devices.searchPlaceholder'),
      autocomplete: 'off',
    });
    const form = h(
      'form',
      { class: 'ota-console-form ota-console-search', role: 'search', 'aria-label': t('devices.find') },
      field(t('devices.name'), input),
      s.version
        ? h(
            'p',
            { class: 'ota-console-muted' },
            t('devices.at', { productKey: s.productKey, module: s.module, version: s.version }) + ' ',
            button(t('devices.anyVersion'), anyVersion, { 'data-focus': 'any-version' }),
          )
        : null,
      h(
        'div',
        { class: 'ota-console-buttons' },
        h('button', {
          type: 'submit',
          class: 'red-ui-button red-ui-button-small',
          text: t('devices.findButton'),
          'data-action': 'find-device',
        }),
      ),
    );
    function anyVersion() {
      view.search = { text: input.value, productKey: '', module: '', version: '' };
      render();
      search();
    }
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      view.search.text = input.value.trim();
      view.device = null;
      view.deviceInfo = null;
      search();
    });
    keepFocus(panel, () => {
      fill(
        panel,
        h('h3', { class: 'ota-console-title', text: t('devices.title') }),
        form,
        h('div', { class: 'ota-console-found' }),
        h('div', { class: 'ota-console-device', tabindex: -1 }),
      );
      renderFound();
      renderDeviceInfo();
    });
  }

  /**
   * Up to FOUND_LIMIT matches from `after`. A filtered request reads a bounded part of the list
   * and may answer few rows with a next cursor: ask on, request by request, until the page is full
   * or the list ends (no single request holds the runtime long).
   */
  function foundPage(query, after, rows) {
    const q = Object.assign({}, query, { limit: FOUND_LIMIT - rows.length });
    if (after) q.after = after;
    return getPage('/devices', q).then(({ items, next }) => {
      const all = rows.concat(items);
      return next && all.length < FOUND_LIMIT ? foundPage(query, next, all) : { items: all, next };
    });
  }

  /** Searches from the first page, or (`page`) shows another page of the same search by its cursor. */
  function search(page) {
    if (page === undefined) pages = { cursors: [null], page: 0 };
    else pages.page = page;
    const s = view.search;
    const query = { limit: FOUND_LIMIT };
    for (const key of ['productKey', 'module', 'version']) if (s[key]) query[key] = s[key];
    if (s.text) query.search = s.text;
    const asked = pages;
    return foundPage(query, asked.cursors[asked.page], []).then(
      ({ items: rows, next }) => {
        if (pages !== asked) return;
        asked.cursors.length = asked.page + 1;
        if (next) asked.cursors.push(next);
        const seen = new Map();
        for (const row of rows) {
          const key = row.productKey + '/' + row.deviceName;
          if (!seen.has(key)) seen.set(key, row);
        }
        view.found = [...seen.values()];
        renderFound();
        if (view.found.length === 1 && s.text && view.found[0].deviceName === s.text) showDevice(view.found[0]);
      },
      (err) => showMessage(err.message, 'error'),
    );
  }

  function isShownDevice(d) {
    return view.device && view.device.deviceName === d.deviceName && view.device.productKey === d.productKey;
  }

  function renderFound() {
    const box = ui.panels.devices.querySelector('.ota-console-found');
    if (!box) return;
    if (!view.found) return fill(box);
    if (view.found.length === 0) return fill(box, h('p', { class: 'ota-console-empty', text: t('devices.noMatch') }));
    keepFocus(box, () =>
      fill(
        box,
        h(
          'ul',
          { class: 'ota-console-found-list', 'aria-label': t('devices.found') },
          view.found.map((d) =>
            h(
              'li',
              null,
              h(
                'button',
                {
                  type: 'button',
                  class: 'ota-console-link',
                  'data-device': d.deviceName,
                  'data-focus': 'found:' + d.productKey + '/' + d.deviceName,
                  'aria-current': isShownDevice(d) ? 'true' : null,
                  onclick: () => showDevice(d),
                },
                d.productKey + '/' + d.deviceName,
              ),
              h('span', { class: 'ota-console-muted', text: ' ' + d.version }),
            ),
          ),
          pages.page > 0 || pages.cursors.length > 1
            ? h(
                'li',
                { class: 'ota-console-buttons' },
                button(t('detail.previous'), () => search(pages.page - 1), {
                  disabled: pages.page === 0,
                  'data-focus': 'found-prev',
                }),
                h('span', { class: 'ota-console-muted', text: t('devices.firstMatches', { count: FOUND_LIMIT }) }),
                button(t('detail.next'), () => search(pages.page + 1), {
                  disabled: pages.cursors.length <= pages.page + 1,
                  'data-focus': 'found-next',
                }),
              )
            : null,
        ),
      ),
    );
  }

  function showDevice(d) {
    view.device = { productKey: d.productKey, deviceName: d.deviceName };
    view.deviceInfo = null;
    renderFound();
    renderDeviceInfo();
    return loaders.device().then(() => focusIn(ui.panels.devices, '.ota-console-device'));
  }

  function renderDeviceInfo() {
    const box = ui.panels.devices.querySelector('.ota-console-device');
    if (!box) return;
    const info = view.deviceInfo;
    if (!view.device) return fill(box);
    if (!info) return fill(box, h('p', { class: 'ota-console-muted', text: t('common.loading') }));
    const tasks = info.tasks.slice().sort((a, b) => b.createdAt - a.createdAt || b.id - a.id);
    keepFocus(box, () =>
      fill(
        box,
        h('h4', { class: 'ota-console-device-title', text: info.productKey + '/' + info.deviceName }),
        info.tags && info.tags.length
          ? h(
              'p',
              null,
              t('devices.tags') + ' ',
              info.tags.map((tag) => h('span', { class: 'ota-console-tag', text: tag })),
            )
          : null,
        modulesTable(info),
        h('h4', { text: t('devices.history') }),
        tasks.length ? historyTable(tasks) : h('p', { class: 'ota-console-empty', text: t('devices.noHistory') }),
      ),
    );
  }

  function headings(columns) {
    return h(
      'thead',
      null,
      h(
        'tr',
        null,
        columns.map((c) => h('th', { scope: 'col', text: t('columns.' + c) })),
      ),
    );
  }

  function modulesTable(info) {
    return h(
      'table',
      { class: 'ota-console-table', id: 'ota-console-modules', 'aria-label': t('devices.modules') },
      headings(['module', 'version', 'firstReport', 'lastReport']),
      h(
        'tbody',
        null,
        info.modules.map((m) =>
          h(
            'tr',
            { 'data-module': m.module, 'data-version': m.version },
            h('td', { text: m.module }),
            h('td', { text: m.version }),
            h('td', { title: isoTime(m.firstSeen), text: formatTime(m.firstSeen) }),
            h('td', { title: isoTime(m.lastSeen), text: formatTime(m.lastSeen) }),
          ),
        ),
      ),
    );
  }

  function historyTable(tasks) {
    return h(
      'table',
      { class: 'ota-console-table', id: 'ota-console-history', 'aria-label': t('devices.history') },
      headings(['batch', 'module', 'state', 'step', 'reason', 'attempts', 'updated']),
      h(
        'tbody',
        null,
        tasks.map((task) =>
          h(
            'tr',
            { 'data-batch-id': task.batchId, 'data-state': task.state },
            h(
              'td',
              null,
              button('#' + task.batchId, () => OtaConsole.batches.open(task.batchId), {
                class: 'ota-console-link',
                'data-focus': 'history:' + task.id,
                'aria-label': t('devices.openBatch', { id: task.batchId }),
              }),
            ),
            h('td', { text: task.module }),
            h('td', null, stateBadge(task.state)),
            h('td', { text: formatStep(task.step) }),
            h('td', { class: 'ota-console-reason', text: task.reason || '' }),
            h('td', { text: String(task.attempts) }),
            h('td', { title: isoTime(task.updatedAt), text: formatTime(task.updatedAt) }),
          ),
        ),
      ),
    );
  }

  OtaConsole.devices = { render, showAt };
})(window.OtaConsole);
