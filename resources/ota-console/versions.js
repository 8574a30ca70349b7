// The Versions section: one bar chart per product key and module, a bar per version; a bar lists
// the devices at that version in the Devices section.
(function (OtaConsole) {
  'use strict';
  const { t, byVersionDesc } = OtaConsole.format;
  const { h, fill } = OtaConsole.widgets;
  const { view, ui, get, singleFlight } = OtaConsole.api;

  singleFlight('versions', () =>
    get('/versions').then((rows) => {
      view.versions = rows;
      render();
      OtaConsole.batchForm.refreshSourceVersions();
    }),
  );

  function render() {
    const panel = ui.panels.versions;
    fill(panel, h('h3', { class: 'ota-console-title', text: t('versions.title') }));
    if (view.versions.length === 0) {
      panel.append(h('p', { class: 'ota-console-empty', text: t('versions.empty') }));
      return;
    }
    const groups = new Map();
    for (const row of view.versions) {
      const key = row.productKey + '\u0000' + row.module;
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push(row);
    }
    for (const rows of groups.values()) panel.append(chart(rows));
  }

  /** The chart of one product key and module: the longest bar fills its track. */
  function chart(rows) {
    const { productKey, module } = rows[0];
    const devices = rows.reduce((sum, r) => sum + r.count, 0);
    const most = Math.max(...rows.map((r) => r.count));
    const list = h('ul', {
      class: 'ota-console-bars',
      'aria-label': t('versions.chartLabel', { productKey, module }),
    });
    for (const row of rows.slice().sort((a, b) => byVersionDesc(a.version, b.version)))
      list.append(bar(productKey, module, row, devices, most));
    return h(
      'section',
      { class: 'ota-console-group' },
      h(
        'h4',
        null,
        productKey + ' · ' + module,
        h('span', {
          class: 'ota-console-muted',
          text: ' ' + t(devices === 1 ? 'versions.oneDevice' : 'versions.devices', { count: devices }),
        }),
      ),
      list,
    );
  }

  function bar(productKey, module, row, devices, most) {
    const share = Math.round((100 * row.count) / devices);
    const where = { productKey, module, version: row.version };
    return h(
      'li',
      {
        'data-product': productKey,
        'data-module': module,
        'data-version': row.version,
        'data-count': row.count,
      },
      h(
        'button',
        {
          type: 'button',
          class: 'ota-console-bar-row',
          'data-focus': 'bar:' + productKey + ':' + module + ':' + row.version,
          title: t('versions.listTitle', where),
          'aria-label': t('versions.barLabel', { version: row.version, count: row.count, share }),
          onclick: () => OtaConsole.devices.showAt(productKey, module, row.version),
        },
        h('span', { class: 'ota-console-bar-label', text: row.version }),
        h(
          'span',
          { class: 'ota-console-bar-track' },
          h('span', { class: 'ota-console-bar', style: { width: (100 * row.count) / most + '%' } }),
        ),
        h('span', { class: 'ota-console-bar-count', text: String(row.count) }),
      ),
    );
  }

  OtaConsole.versions = { render };
})(window.OtaConsole);
