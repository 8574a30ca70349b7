// The OTA sidebar tab itself: the fleet picker, the section tabs (a WAI-ARIA tablist), the
// toolbar; add() puts the tab and its action into the editor when the plugin is added.
(function (OtaConsole) {
  'use strict';
  const { t } = OtaConsole.format;
  const { h, fill, button } = OtaConsole.widgets;
  const { view, ui, canRead, canWrite, subscribeFleets, loadFleets, selectFleet, loadAll } = OtaConsole.api;

  const PANELS = ['versions', 'firmware', 'batches', 'devices'];

  function renderFleetPicker() {
    fill(
      ui.fleet,
      view.fleets.length
        ? view.fleets.map((f) => h('option', { value: f.id, text: f.name || f.id }))
        : h('option', { value: '', text: t('tab.noFleet') }),
    );
    ui.fleet.disabled = view.fleets.length === 0;
    ui.fleet.value = view.fleetId || '';
  }

  function renderAll() {
    OtaConsole.versions.render();
    OtaConsole.firmware.render();
    OtaConsole.batches.render();
    OtaConsole.devices.render();
  }

  function showPanel(id) {
    view.panel = id;
    for (const p of PANELS) {
      const selected = p === id;
      ui.tabs[p].setAttribute('aria-selected', String(selected));
      ui.tabs[p].tabIndex = selected ? 0 : -1;
      ui.panels[p].hidden = !selected;
    }
  }

  /** Arrow keys, Home and End move between the section tabs (the WAI-ARIA tabs pattern). */
  function onTabKey(event) {
    const at = PANELS.indexOf(view.panel);
    const to = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: PANELS.length - 1 }[event.key];
    if (to === undefined) return;
    event.preventDefault();
    const id = PANELS[(to + PANELS.length) % PANELS.length];
    showPanel(id);
    ui.tabs[id].focus();
  }

  function buildContent() {
    ui.fleet = h('select', { id: 'ota-console-fleet', onchange: () => selectFleet(ui.fleet.value || null) });
    ui.message = h('div', { class: 'ota-console-message', role: 'status', 'aria-live': 'polite' });
    ui.tabs = {};
    ui.panels = {};
    const tablist = h('div', {
      class: 'ota-console-nav',
      role: 'tablist',
      'aria-label': t('tab.sections'),
      onkeydown: onTabKey,
    });
    const body = h('div', { class: 'ota-console-body' });
    for (const p of PANELS) {
      ui.tabs[p] = h('button', {
        type: 'button',
        role: 'tab',
        id: 'ota-console-tab-' + p,
        'aria-controls': 'ota-console-panel-' + p,
        'data-panel': p,
        text: t('panel.' + p),
        onclick: () => showPanel(p),
      });
      ui.panels[p] = h('section', {
        role: 'tabpanel',
        id: 'ota-console-panel-' + p,
        'aria-labelledby': 'ota-console-tab-' + p,
        class: 'ota-console-panel',
      });
      tablist.append(ui.tabs[p]);
      body.append(ui.panels[p]);
    }
    ui.root = h(
      'div',
      { class: 'ota-console', id: 'ota-console' },
      h(
        'div',
        { class: 'ota-console-head' },
        h('label', { for: 'ota-console-fleet', text: t('tab.fleet') }),
        ui.fleet,
        canWrite() ? null : h('span', { class: 'ota-console-badge ota-console-s-QUEUED', text: t('tab.readOnly') }),
      ),
      tablist,
      ui.message,
      body,
    );
    OtaConsole.batchForm.reset();
    showPanel('versions');
    return ui.root;
  }

  function buildToolbar() {
    const reload = button('', () => loadFleets(), {
      'aria-label': t('tab.reload'),
      title: t('tab.reload'),
      'data-action': 'reload',
    });
    reload.append(h('i', { class: 'fa fa-refresh', 'aria-hidden': 'true' }));
    return h(
      'div',
      { class: 'ota-console-toolbar' },
      h('span', { class: 'ota-console-muted', text: t('tab.live') }),
      reload,
    );
  }

  let started = false;
  function onShow() {
    if (!canRead()) {
      fill(
        ui.root.querySelector('.ota-console-body'),
        h('p', { class: 'ota-console-empty', text: t('tab.needsRead') }),
      );
      return;
    }
    if (!started) {
      started = true;
      subscribeFleets();
      renderAll();
      loadFleets();
    } else if (view.stale) {
      loadAll();
    }
  }

  /** Adds the tab and its action to the editor (the plugin's onadd, once every file has run). */
  function add() {
    RED.sidebar.addTab({
      id: 'ota-console',
      label: t('tab.label'),
      name: t('tab.name'),
      iconClass: 'fa fa-cloud-upload',
      content: buildContent(),
      toolbar: buildToolbar(),
      enableOnEdit: true,
      onchange: onShow,
    });
    // The keyboard settings list the action under this label, in the editor's language.
    RED.actions.add('ota-console:show-ota-tab', () => RED.sidebar.show('ota-console'), {
      label: OtaConsole.format.NAMESPACE + ':tab.showAction',
    });
  }

  OtaConsole.tab = { add, renderFleetPicker, renderAll, showPanel };
})(window.OtaConsole);
